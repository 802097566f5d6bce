#!/usr/bin/python3
"""Benchmark of `omniseg fim` against the reference times in GROUND_TRUTH.md.

For every data set and threshold listed there (and the heavy cases given in the issue), runs
`omniseg fim` at each rank count --repeat times and reports the median wall time of the whole
process (mpiexec included), omniseg's own time (its JSON `seconds`), the largest peak resident
memory of any rank, and the reference time (Borgelt's fpgrowth 6.14 writing every itemset, one
thread, on this machine kind). Prints a Markdown table; the exact command is printed first.

    bench/fim_bench.py --omniseg build/omniseg --datasets ../shared/datasets --ranks 1 2 --repeat 3
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HEAVY = [("retail/retail.dat", 3, 20647331, 1920), ("T10I4D100K/T10I4D100K.dat", 3, 6169853, 1570),
         ("mushroom/mushroom.dat", 250, 9944483, 470)]


def ground_truth_cases(path):
    """(dataset file, S, itemsets, reference ms) for every row of GROUND_TRUTH.md."""
    text = open(path, encoding="utf-8").read()
    cases = []
    for section in re.finditer(r"^### (\S+)\.dat\n(.*?)(?=^### |\Z)", text, re.M | re.S):
        name = section.group(1)
        for row in re.finditer(r"^\| (\d+) \| ([\d,]+) \| [\d: ]+ \| (\d+) \(", section.group(2), re.M):
            cases.append((f"{name}/{name}.dat", int(row.group(1)), int(row.group(2).replace(",", "")),
                          int(row.group(3))))
    return cases


def run_once(args, dataset, support, ranks, out):
    command = ["mpiexec", "-n", str(ranks), "--bind-to", "none", "--oversubscribe", args.omniseg,
               "--log-level", "warn", "fim", "--input", os.path.join(args.datasets, dataset),
               "--min-support", str(support), "--output", out]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    summary = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][0])
    return wall, summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--omniseg", required=True)
    parser.add_argument("--datasets", required=True)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--heavy", action="store_true", help="also the three heavy cases")
    parser.add_argument("--heavy-only", action="store_true", help="only the three heavy cases")
    parser.add_argument("--only", help="only data sets whose file name contains this")
    args = parser.parse_args()
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    cases = ground_truth_cases(os.path.join(args.datasets, "GROUND_TRUTH.md"))
    if args.heavy_only:
        cases = list(HEAVY)
    elif args.heavy:
        cases += HEAVY
    if args.only:
        cases = [c for c in cases if args.only in c[0]]
    print("command:", " ".join(sys.argv))
    header = "| data set | S | itemsets | reference ms |"
    for ranks in args.ranks:
        header += f" {ranks} rank{'s' if ranks > 1 else ''}: wall ms | omniseg ms | peak MB/rank | ratio to ref |"
    print(header)
    print("|" + "---|" * (4 + 4 * len(args.ranks)))
    with tempfile.TemporaryDirectory() as work:
        for dataset, support, itemsets, reference_ms in cases:
            line = f"| {os.path.basename(dataset)} | {support} | {itemsets:,} | {reference_ms} |"
            for ranks in args.ranks:
                walls, inside, peaks = [], [], []
                for _ in range(args.repeat):
                    wall, summary = run_once(args, dataset, support, ranks, os.path.join(work, "out"))
                    if summary["itemsets"] != itemsets:
                        raise RuntimeError(f"{dataset} S={support}: {summary['itemsets']} itemsets, expected {itemsets}")
                    walls.append(wall * 1000)
                    inside.append(summary["seconds"] * 1000)
                    peaks.append(summary["peak_rss_bytes_max_rank"] / 2**20)
                wall = statistics.median(walls)
                line += (f" {wall:.0f} | {statistics.median(inside):.0f} | {max(peaks):.0f} |"
                         f" {wall / reference_ms:.1f} |")
            print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
