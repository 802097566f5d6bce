#!/usr/bin/python3
"""`omniseg fim` against the ground truth of ../shared/datasets/GROUND_TRUTH.md.

For one data set and rank count: every threshold whose itemset count is at most --max-itemsets is
mined; the JSON summary's totals and per-size counts must equal the table, and the canonical-list
SHA-256 (defined in GROUND_TRUTH.md) computed from the text output AND from the HDF5 output must
equal the listed digest. With --compare-ranks, the same case is mined at several rank counts and
the text and HDF5 outputs must be byte-identical (text) and element-identical (datasets).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import h5py
import numpy as np


def parse_ground_truth(path, dataset_file):
    """{S: (itemsets, {size: count}, sha256)} for the section of `dataset_file`."""
    text = open(path, encoding="utf-8").read()
    start = text.index(f"### {dataset_file}")
    end = text.find("\n### ", start + 1)
    section = text[start: end if end != -1 else len(text)]
    cases = {}
    for row in re.finditer(r"^\| (\d+) \| ([\d,]+) \| ([\d: ]+) \|", section, re.M):
        sizes = dict(tuple(map(int, pair.split(":"))) for pair in row.group(3).split())
        cases[int(row.group(1))] = [int(row.group(2).replace(",", "")), sizes, None]
    for digest in re.finditer(r"^- S=(\d+): `([0-9a-f]{64})`", section, re.M):
        cases[int(digest.group(1))][2] = digest.group(2)
    return cases


def canonical_sha(lines):
    """SHA-256 of the canonical list: 'i1 i2|support' lines, sorted as bytes, joined by newlines."""
    encoded = sorted(line.encode() for line in lines)
    return hashlib.sha256(b"\n".join(encoded)).hexdigest()


def lines_from_text(path):
    for line in open(path, encoding="ascii"):
        items, support = line.rstrip("\n").split(" #SUP: ")
        yield f"{items}|{support}"


def lines_from_hdf5(path):
    with h5py.File(path, "r") as f:
        offsets, items, support = f["/fim/offsets"][:], f["/fim/items"][:], f["/fim/support"][:]
    assert len(offsets) == len(support) + 1 and offsets[0] == 0 and offsets[-1] == len(items), "bad CSR"
    for i in range(len(support)):
        yield " ".join(map(str, items[offsets[i]:offsets[i + 1]])) + f"|{support[i]}"


def run_fim(args, ranks, support, out_stem):
    command = args.mpiexec.split() + ["-n", str(ranks), args.omniseg, "fim", "--input", args.input,
                                      "--min-support", str(support), "--output", out_stem, "--text"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    summaries = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if len(summaries) != 1:
        raise AssertionError(f"expected one JSON line on stdout, got:\n{done.stdout[-2000:]}")
    return json.loads(summaries[0])


def check_case(args, ranks, support, expected, work):
    itemsets, sizes, digest = expected
    stem = os.path.join(work, f"s{support}_np{ranks}")
    summary = run_fim(args, ranks, support, stem)
    problems = []
    if summary["itemsets"] != itemsets:
        problems.append(f"itemsets {summary['itemsets']} != {itemsets}")
    by_size = {k + 1: n for k, n in enumerate(summary["by_size"]) if n}
    if by_size != sizes:
        problems.append(f"by_size {by_size} != {sizes}")
    text_sha = canonical_sha(lines_from_text(stem + ".txt"))
    if text_sha != digest:
        problems.append(f"text output canonical sha {text_sha} != {digest}")
    hdf5_sha = canonical_sha(lines_from_hdf5(stem + ".h5"))
    if hdf5_sha != digest:
        problems.append(f"HDF5 output canonical sha {hdf5_sha} != {digest}")
    status = "ok" if not problems else "FAILED: " + "; ".join(problems)
    print(f"{os.path.basename(args.input)} S={support} at {ranks} ranks: {itemsets} itemsets, "
          f"{summary['seconds']:.3f} s: {status}", flush=True)
    return stem, problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--omniseg", required=True)
    parser.add_argument("--mpiexec", required=True, help="mpiexec and its flags, without -n")
    parser.add_argument("--ground-truth", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--ranks", type=int, nargs="+", required=True)
    parser.add_argument("--max-itemsets", type=int, default=200000)
    parser.add_argument("--compare-ranks", action="store_true",
                        help="also require byte-identical outputs across the rank counts")
    args = parser.parse_args()
    cases = parse_ground_truth(args.ground_truth, os.path.basename(args.input))
    assert cases, "no ground truth found"
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        for support, expected in sorted(cases.items(), reverse=True):
            if expected[0] > args.max_itemsets:
                continue
            stems = []
            for ranks in args.ranks:
                stem, problems = check_case(args, ranks, support, expected, work)
                failures += len(problems) > 0
                stems.append(stem)
            if args.compare_ranks:
                reference = open(stems[0] + ".txt", "rb").read()
                with h5py.File(stems[0] + ".h5", "r") as f:
                    datasets = {name: f[f"/fim/{name}"][:] for name in ("offsets", "items", "support", "by_size")}
                for stem, ranks in zip(stems[1:], args.ranks[1:]):
                    if open(stem + ".txt", "rb").read() != reference:
                        print(f"FAILED: text output at {ranks} ranks differs from {args.ranks[0]} ranks")
                        failures += 1
                    with h5py.File(stem + ".h5", "r") as f:
                        for name, values in datasets.items():
                            if not np.array_equal(f[f"/fim/{name}"][:], values):
                                print(f"FAILED: /fim/{name} at {ranks} ranks differs from {args.ranks[0]} ranks")
                                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
