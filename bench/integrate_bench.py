#!/usr/bin/python3
"""Benchmark of `omniseg integrate` against DuckDB running the equivalent SQL on the same CSV files.

Data: `omniseg generate` with 2,000,000 customers, 50,000 items and 20,000,000 order lines, seed 1,
dirty rate 0 (about 1.7 GB of CSV), generated into --data when its job.toml is missing. Each
configuration runs --repeats times, interleaved (one run of every configuration per round, so slow
phases of a noisy machine spread over all of them); medians are reported with every run beside them.

- omniseg: `mpiexec -n P --bind-to none omniseg --log-level warn integrate --config DATA/job.toml
  --output OUT` for each P in --ranks. Wall = the whole mpiexec process; phases and peak resident
  memory per rank from OUT/summary.json (phase times are the max over ranks). omniseg also builds
  baskets.dat and writes features.h5 - DuckDB does neither.
- DuckDB: bench/integrate_duckdb.mjs under node (npm package @duckdb/node-api, installed into
  --duckdb-prefix when missing) with `threads` = T for each T in --threads, in two modes: `tables`
  (read_csv with explicit types into in-memory tables, then the join and aggregation) and `direct`
  (one query from the CSV files to the per-customer aggregate). Wall = the whole node process; peak
  memory = /usr/bin/time's maximum resident set size of node.
- Floor: reading the CSV bytes once from the page cache with P threads (os.preadv into a 1 MiB
  buffer, the files split into P byte ranges each; best of 3 after one warming pass).

Cross-check (exit status 1 when it fails): omniseg's features.csv at the largest rank count against
every DuckDB configuration's output, customer by customer: the same customer set, frequency equal,
and monetary exact - omniseg's shortest round-trip double read as a decimal and rounded half-even to
4 places must equal DuckDB's DECIMAL(38,4) sum. Every other feature is compared as doubles
(reported: how many differ, the largest relative difference). omniseg's features.csv must also be
the same bytes at every rank count.

    bench/integrate_bench.py --repeats 3                        # full size: about 10 min on 2 cores
    bench/integrate_bench.py --data /tmp/ib-small --customers 20000 --items 2000 --orders 200000 --repeats 1
"""
import argparse
import csv
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import tomllib
from decimal import Decimal

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUCKDB_SCRIPT = os.path.join(REPO, "bench", "integrate_duckdb.mjs")
OMNISEG_LOAD = ["customers", "items", "identity", "read_orders"]
OMNISEG_JOIN = ["join_items", "join_identity", "features"]
RELATIVE_TOLERANCE = 1e-12  # the double features other than frequency and monetary


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def mpi_env():
    env = dict(os.environ)
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    return env


def run_checked(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def run_timed(command, rusage_file, **kwargs):
    """Run under /usr/bin/time: (completed process, wall s, CPU s of it and every descendant it waited
    for - the ranks under mpiexec -, largest max RSS of any of them in bytes)."""
    start = time.perf_counter()
    done = run_checked(["/usr/bin/time", "-f", "%U %S %M", "-o", rusage_file] + command, **kwargs)
    wall = time.perf_counter() - start
    with open(rusage_file, encoding="utf-8") as f:
        user, system, maxrss_kb = f.read().split()[-3:]
    return done, wall, float(user) + float(system), int(maxrss_kb) * 1024


def json_line(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"no JSON line in the output:\n{stdout[-2000:]}")
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------------ preparation


def generate_command(args):
    return ["mpiexec", "-n", "2", "--bind-to", "none", args.omniseg, "--log-level", "warn", "generate",
            "--out", args.data, "--customers", str(args.customers), "--items", str(args.items),
            "--orders", str(args.orders), "--seed", str(args.seed), "--dirty-rate", "0"]


def ensure_data(args):
    if os.path.exists(os.path.join(args.data, "job.toml")):
        log(f"data: using {args.data} (delete it to regenerate)")
        return None
    command = generate_command(args)
    log("data:", " ".join(command))
    start = time.perf_counter()
    run_checked(command, env=mpi_env())
    log(f"data: generated in {time.perf_counter() - start:.1f} s")
    return command


def ensure_duckdb(prefix):
    package = os.path.join(prefix, "node_modules", "@duckdb", "node-api", "package.json")
    if not os.path.exists(package):
        log(f"duckdb: npm install --prefix {prefix} @duckdb/node-api")
        os.makedirs(prefix, exist_ok=True)
        run_checked(["npm", "install", "--prefix", prefix, "@duckdb/node-api"])
    with open(package, encoding="utf-8") as f:
        return json.load(f)["version"]


def write_spec(args, path):
    """The job's inputs for integrate_duckdb.mjs: absolute files, column maps, channels, features."""
    with open(os.path.join(args.data, "job.toml"), "rb") as f:
        job = tomllib.load(f)
    inputs = job["input"]

    def entry(e):
        return {"file": os.path.join(args.data, e["file"]), "columns": e.get("columns", {})}

    spec = {"customers": entry(inputs["customers"]), "identity": entry(inputs["identity"]),
            "items": entry(inputs["items"]),
            "orders": [dict(entry(o), channel=o["channel"]) for o in inputs["orders"]],
            "as_of": str(job["features"]["as_of"]), "top_categories": job["features"].get("top_categories", 8)}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    return spec


def input_files(spec):
    return [spec["customers"]["file"], spec["identity"]["file"], spec["items"]["file"]] + \
        [o["file"] for o in spec["orders"]]


# ------------------------------------------------------------------------------------------ floor


def read_ranges(ranges, chunk):
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    for path, begin, end in ranges:
        fd = os.open(path, os.O_RDONLY)
        try:
            position = begin
            while position < end:
                got = os.preadv(fd, [view[:min(chunk, end - position)]], position)
                if got <= 0:
                    break
                position += got
        finally:
            os.close(fd)


def read_floor(files, threads, repeats=3, chunk=1 << 20):
    """Seconds to read every byte of `files` from the page cache on `threads` threads (best of
    `repeats`, after one warming pass); each thread reads its 1/threads byte range of every file."""
    sizes = [(path, os.path.getsize(path)) for path in files]
    parts = [[(path, size * t // threads, size * (t + 1) // threads) for path, size in sizes]
             for t in range(threads)]
    best = None
    for attempt in range(repeats + 1):
        workers = [threading.Thread(target=read_ranges, args=(part, chunk)) for part in parts]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        seconds = time.perf_counter() - start
        if attempt > 0:
            best = seconds if best is None else min(best, seconds)
    total = sum(size for _, size in sizes)
    return {"threads": threads, "seconds": best, "bytes": total, "gb_s": total / best / 1e9}


# ------------------------------------------------------------------------------------------- runs


def wait_for_binary(path, timeout_s=600):
    """The binary may be replaced by a rebuild while the benchmark runs: wait for it to be back."""
    deadline = time.time() + timeout_s
    while not os.access(path, os.X_OK):
        if time.time() > deadline:
            raise RuntimeError(f"{path} is missing")
        log(f"waiting for {path} (rebuilding?)")
        time.sleep(10)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(path)))


def run_omniseg(args, ranks, out):
    binary_time = wait_for_binary(args.omniseg)
    if os.path.exists(out):
        shutil.rmtree(out)
    command = ["mpiexec", "-n", str(ranks), "--bind-to", "none", args.omniseg, "--log-level", "warn",
               "integrate", "--config", os.path.join(args.data, "job.toml"), "--output", out]
    load = os.getloadavg()[0]
    done, wall, cpu, _ = run_timed(command, out + ".rusage", env=mpi_env())
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    phases = {p["phase"]: p["max_s"] for p in summary["phases"]}
    order_lines = sum(entry["read"] for name, entry in summary["accounting"].items()
                      if isinstance(entry, dict) and name in args.order_files)
    return {"wall_s": wall, "cpu_s": cpu, "seconds": summary["seconds"], "phases": phases, "order_lines": order_lines,
            "peak_rss_bytes_per_rank": summary["peak_rss_bytes_per_rank"], "customers": summary["customers"],
            "stdout": json_line(done.stdout), "load_average_before": load, "command": command,
            "binary_time": binary_time}


def run_duckdb(args, mode, threads, out, spec_path):
    os.makedirs(out, exist_ok=True)
    features = os.path.join(out, "features.csv")
    command = ["node", DUCKDB_SCRIPT, "--spec", spec_path, "--threads", str(threads), "--mode", mode,
               "--out", features, "--duckdb-prefix", args.duckdb_prefix]
    load = os.getloadavg()[0]
    done, wall, cpu, maxrss = run_timed(command, os.path.join(out, "rusage"))
    result = json_line(done.stdout)
    result.update(wall_s=wall, cpu_s=cpu, time_maxrss_bytes=maxrss, load_average_before=load, command=command,
                  features_csv=features)
    return result


# ------------------------------------------------------------------------------------ cross-check


def read_features(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, {int(row[0]): row[1:] for row in reader}


def cross_check(omniseg_csv, duckdb_csv):
    """The exact frequency/monetary check and the double comparison of every other feature."""
    ours_header, ours = read_features(omniseg_csv)
    theirs_header, theirs = read_features(duckdb_csv)
    report = {"omniseg_customers": len(ours), "duckdb_customers": len(theirs),
              "header_equal": ours_header == theirs_header}
    only_ours, only_theirs = ours.keys() - theirs.keys(), theirs.keys() - ours.keys()
    report["only_in_omniseg"] = sorted(only_ours)[:5]
    report["only_in_duckdb"] = sorted(only_theirs)[:5]
    report["same_customer_set"] = not only_ours and not only_theirs
    if not report["header_equal"]:
        report["omniseg_header"], report["duckdb_header"] = ours_header, theirs_header
    names = ours_header[1:]
    frequency, monetary = names.index("frequency"), names.index("monetary")
    quantum = Decimal("0.0001")
    bad_frequency, bad_monetary, monetary_double_differs = [], [], 0
    other = {name: {"differ": 0, "max_relative": 0.0, "example": None} for i, name in enumerate(names)
             if i not in (frequency, monetary) and name in theirs_header}
    theirs_index = {name: theirs_header.index(name) - 1 for name in other}
    for customer in sorted(ours.keys() & theirs.keys()):
        a, b = ours[customer], theirs[customer]
        if float(a[frequency]) != int(b[frequency]) or not float(a[frequency]).is_integer():
            bad_frequency.append((customer, a[frequency], b[frequency]))
        if Decimal(a[monetary]).quantize(quantum) != Decimal(b[monetary]):
            bad_monetary.append((customer, a[monetary], b[monetary]))
        elif float(a[monetary]) != float(Decimal(b[monetary])):
            monetary_double_differs += 1
        for name, entry in other.items():
            x, y = float(a[names.index(name)]), float(b[theirs_index[name]])
            if x != y:
                entry["differ"] += 1
                relative = abs(x - y) / max(abs(x), abs(y))
                if relative > entry["max_relative"]:
                    entry["max_relative"], entry["example"] = relative, (customer, a[names.index(name)],
                                                                         b[theirs_index[name]])
    report.update(frequency_mismatches=len(bad_frequency), frequency_examples=bad_frequency[:5],
                  monetary_mismatches=len(bad_monetary), monetary_examples=bad_monetary[:5],
                  monetary_double_not_nearest=monetary_double_differs, other_features=other)
    report["exact_ok"] = report["same_customer_set"] and not bad_frequency and not bad_monetary
    report["other_ok"] = all(e["max_relative"] <= RELATIVE_TOLERANCE for e in other.values()) and \
        report["header_equal"]
    return report


def file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------- report


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=3):
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def summarise(config, runs, order_lines, floors):
    """One table row's figures from the runs of one configuration."""
    walls = [r["wall_s"] for r in runs]
    row = {"config": config, "walls": walls, "wall_s": median(walls), "best_wall_s": min(walls),
           "seconds": median([r["seconds"] for r in runs]), "cpu_s": median([r["cpu_s"] for r in runs]),
           "load_average_before": median([r["load_average_before"] for r in runs])}
    parallel = config["parallelism"]
    row["floor_s"] = floors.get(parallel, {}).get("seconds")
    if config["tool"] == "omniseg":
        phases = sorted({p for r in runs for p in r["phases"]}, key=lambda p: list(runs[0]["phases"]).index(p)
                        if p in runs[0]["phases"] else 99)
        row["phases"] = {p: median([r["phases"].get(p) for r in runs]) for p in phases}
        row["load_s"] = median([sum(r["phases"].get(p, 0) for p in OMNISEG_LOAD) for r in runs])
        row["join_aggregate_s"] = median([sum(r["phases"].get(p, 0) for p in OMNISEG_JOIN) for r in runs])
        row["write_s"] = median([r["phases"].get("write") for r in runs])
        join = median([r["phases"].get("join_items", 0) + r["phases"].get("join_identity", 0) for r in runs])
        row["join_lines_per_s_per_worker"] = order_lines / parallel / join if join else None
        row["peak_bytes"] = max(max(r["peak_rss_bytes_per_rank"]) for r in runs)
    else:
        row["load_s"] = median([r["load_s"] for r in runs]) if config["mode"] == "tables" else None
        row["join_aggregate_s"] = median([r["join_aggregate_s"] for r in runs])
        row["write_s"] = median([r["write_s"] for r in runs])
        row["join_lines_per_s_per_worker"] = order_lines / parallel / row["join_aggregate_s"]
        row["peak_bytes"] = max(r["time_maxrss_bytes"] for r in runs)
    return row


def print_tables(rows, floors, order_lines, checks, same_bytes):
    duckdb_best = {}
    for row in rows:
        c = row["config"]
        if c["tool"] == "duckdb":
            best = duckdb_best.get(c["parallelism"])
            if best is None or row["wall_s"] < best["wall_s"]:
                duckdb_best[c["parallelism"]] = row
    print("\n### End to end, CSV files to per-customer features (seconds; medians, every run in brackets)\n")
    print("| system | ranks / threads | wall s (runs) | CPU s | own s | load / ingest s | join + aggregate s | write s |"
          " peak MiB per rank / process | best DuckDB wall / this wall | order lines / s / worker in the join |"
          " floor s (read the CSV once) | load average before |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        c = row["config"]
        name = "omniseg" if c["tool"] == "omniseg" else f"DuckDB {c['mode']}"
        best = duckdb_best.get(c["parallelism"])
        ratio = best["wall_s"] / row["wall_s"] if best else None
        runs = ", ".join(f"{w:.1f}" for w in row["walls"])
        load = fmt(row["load_s"]) if row["load_s"] is not None else "(in the query)"
        throughput = row["join_lines_per_s_per_worker"]
        print(f"| {name} | {c['parallelism']} | {fmt(row['wall_s'])} ({runs}) | {fmt(row['cpu_s'])} |"
              f" {fmt(row['seconds'])} | {load} |"
              f" {fmt(row['join_aggregate_s'])} | {fmt(row['write_s'])} | {row['peak_bytes'] / 2**20:.0f} |"
              f" {fmt(ratio, 2)} | {throughput / 1e6:.2f} M | {fmt(row['floor_s'])} |"
              f" {row['load_average_before']:.1f} |")
    for row in rows:
        c = row["config"]
        best = duckdb_best.get(c["parallelism"])
        if c["tool"] == "omniseg" and best:
            print(f"\nomniseg at {c['parallelism']} rank(s): {best['wall_s'] / row['wall_s']:.2f}x the speed of the "
                  f"best DuckDB at {c['parallelism']} thread(s) end to end, medians "
                  f"({best['best_wall_s'] / row['best_wall_s']:.2f}x best run against best run; goal at 2: >= 2x); join "
                  f"{row['join_lines_per_s_per_worker'] / 1e6:.2f} M order lines / s / rank (goal: > 5 M); peak "
                  f"{row['peak_bytes'] / 2**20:.0f} MiB per rank vs DuckDB's {best['peak_bytes'] / 2**20:.0f} MiB.")
    omniseg_rows = [r for r in rows if r["config"]["tool"] == "omniseg"]
    if omniseg_rows:
        phases = list(omniseg_rows[-1]["phases"])
        print("\n### omniseg phases (seconds, max over ranks, median of the runs)\n")
        print("| ranks | " + " | ".join(phases) + " |")
        print("|---:|" + "---:|" * len(phases))
        for row in omniseg_rows:
            print(f"| {row['config']['parallelism']} | " +
                  " | ".join(fmt(row["phases"].get(p)) for p in phases) + " |")
    print("\n### Floor: reading the CSV bytes once from the page cache\n")
    print("| threads | GB | s | GB/s |")
    print("|---:|---:|---:|---:|")
    for threads, f in sorted(floors.items()):
        print(f"| {threads} | {f['bytes'] / 1e9:.2f} | {f['seconds']:.3f} | {f['gb_s']:.2f} |")
    print("\nCPU s = user + system seconds of the process and its descendants (/usr/bin/time; the ranks under "
          "mpiexec), less sensitive than wall time to other load on the machine; MPI ranks waiting in a "
          "collective spin, so omniseg's CPU s also counts waiting.")
    print(f"\nomniseg load / ingest = customers + items + identity + read_orders; join + aggregate = "
          f"join_items + join_identity + features (its other phases: baskets, write). DuckDB tables: load = "
          f"read_csv into typed tables (parses every field), join + aggregate = the rest up to the features "
          f"table; DuckDB direct: everything from the CSV files to the features is the query. Write = "
          f"features.csv (omniseg also features.h5). Order lines / s / worker: {order_lines:,} / workers / "
          f"(join_items + join_identity) for omniseg, / (join + aggregate) for DuckDB.")
    print("\n### Cross-check\n")
    for label, report in checks.items():
        other = ", ".join(f"{name}: {e['differ']} differ (max rel {e['max_relative']:.1e})"
                          for name, e in report["other_features"].items() if e["differ"]) or "all equal"
        print(f"- omniseg vs {label}: {report['omniseg_customers']:,} / {report['duckdb_customers']:,} customers, "
              f"same set: {report['same_customer_set']}; frequency mismatches {report['frequency_mismatches']}, "
              f"monetary mismatches {report['monetary_mismatches']} "
              f"({'exact: PASS' if report['exact_ok'] else 'exact: FAIL'}); other features as doubles: {other}"
              + ("" if report["header_equal"] else "; HEADERS DIFFER"))
    for ranks, equal in same_bytes.items():
        print(f"- omniseg features.csv at {ranks} ranks the same bytes as at the largest rank count: {equal}")


# ------------------------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--omniseg", default=os.path.join(REPO, "build", "omniseg"))
    parser.add_argument("--data", default="/tmp/omniseg-bench/integrate",
                        help="generated data set (generated here when DATA/job.toml is missing)")
    parser.add_argument("--customers", type=int, default=2_000_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration; medians reported")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duckdb-modes", nargs="+", choices=["tables", "direct"], default=["tables", "direct"])
    parser.add_argument("--duckdb-prefix", default="/tmp/duckdb-peer",
                        help="npm prefix holding @duckdb/node-api (installed there when missing)")
    parser.add_argument("--out", default="/tmp/omniseg-bench/integrate-results",
                        help="outputs of every run and results.json")
    args = parser.parse_args()
    if args.repeats < 1 or min(args.ranks) < 1 or min(args.threads) < 1:
        parser.error("--repeats, --ranks and --threads must be >= 1")
    args.omniseg = os.path.abspath(args.omniseg)
    args.data = os.path.abspath(args.data)
    args.out = os.path.abspath(args.out)
    for path in (args.data, args.out, os.path.abspath(args.duckdb_prefix)):
        if os.path.commonpath([path, REPO]) == REPO:
            parser.error(f"{path} must be outside the repository")
    os.makedirs(args.out, exist_ok=True)

    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    print("command:", " ".join(["bench/integrate_bench.py"] + sys.argv[1:]), flush=True)
    wait_for_binary(args.omniseg)
    generated = ensure_data(args)
    duckdb_version = ensure_duckdb(args.duckdb_prefix)
    spec_path = os.path.join(args.out, "duckdb_spec.json")
    spec = write_spec(args, spec_path)
    args.order_files = {os.path.basename(o["file"]) for o in spec["orders"]}
    binary_time = wait_for_binary(args.omniseg)
    version = run_checked([args.omniseg, "--version"]).stdout.strip()
    node = run_checked(["node", "--version"]).stdout.strip()
    print(f"started {started}; {version} (binary of {binary_time}); @duckdb/node-api {duckdb_version}, "
          f"node {node}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; data {args.data}",
          flush=True)

    files = input_files(spec)
    floors = {p: read_floor(files, p) for p in sorted(set(args.ranks) | set(args.threads))}
    configs = [{"tool": "omniseg", "parallelism": p} for p in args.ranks] + \
        [{"tool": "duckdb", "mode": m, "parallelism": t} for m in args.duckdb_modes for t in args.threads]
    runs = {i: [] for i in range(len(configs))}
    for repeat in range(args.repeats):
        for i, config in enumerate(configs):
            if config["tool"] == "omniseg":
                out = os.path.join(args.out, f"omniseg-{config['parallelism']}")
                result = run_omniseg(args, config["parallelism"], out)
            else:
                out = os.path.join(args.out, f"duckdb-{config['mode']}-{config['parallelism']}")
                result = run_duckdb(args, config["mode"], config["parallelism"], out, spec_path)
            runs[i].append(result)
            log(f"round {repeat + 1}/{args.repeats} {config}: wall {result['wall_s']:.2f} s "
                f"(load average before {result['load_average_before']:.2f})")

    order_lines = next((r[0]["order_lines"] for i, r in runs.items() if configs[i]["tool"] == "omniseg"),
                       args.orders)
    rows = [summarise(config, runs[i], order_lines, floors) for i, config in enumerate(configs)]

    checks, same_bytes = {}, {}
    if args.ranks:
        largest = max(args.ranks)
        ours = os.path.join(args.out, f"omniseg-{largest}", "features.csv")
        digest = file_digest(ours)
        for p in args.ranks:
            if p != largest:
                same_bytes[p] = file_digest(os.path.join(args.out, f"omniseg-{p}", "features.csv")) == digest
        for i, config in enumerate(configs):
            if config["tool"] == "duckdb":
                label = f"DuckDB {config['mode']} {config['parallelism']} thread(s)"
                checks[label] = cross_check(ours, runs[i][-1]["features_csv"])

    print_tables(rows, floors, order_lines, checks, same_bytes)
    print(f"\nfinished {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load average {os.getloadavg()[0]:.2f}")
    results = {"command": sys.argv, "started": started, "omniseg_version": version, "omniseg_binary_time": binary_time,
               "duckdb_node_api": duckdb_version, "generated_with": generated, "floors": floors,
               "rows": rows, "runs": {json.dumps(configs[i]): r for i, r in runs.items()},
               "cross_check": checks, "omniseg_same_bytes": same_bytes}
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, default=str)
    print(f"results: {os.path.join(args.out, 'results.json')}")
    binaries = {r["binary_time"] for i, rs in runs.items() if configs[i]["tool"] == "omniseg" for r in rs}
    if len(binaries) > 1:
        print(f"WARNING: the omniseg binary changed during the benchmark (builds of {sorted(binaries)})")
    ok = all(c["exact_ok"] for c in checks.values()) and all(same_bytes.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
