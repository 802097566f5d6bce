"""`omniseg integrate` end to end on generated data, against an independent Python reference
(reference_integration.py) and against the generator's own record of what it planted (truth.h5):

- clean data (dirty rate 0) and dirty data: every feature value of every customer equals the
  reference's (compared as doubles, bit for bit), baskets.dat equals the reference's text, the
  accounting of every file equals the reference's and adds up (read = joined + anonymous + rejected),
  and the rejects are the same rows with the same reasons;
- on dirty data, the rejects per file and reason equal the counts the generator planted;
- features.csv, features.h5, baskets.dat and rejects.csv are the same bytes at every rank count,
  written through the page cache (dirty data) and around it (clean data);
- bad configurations and inputs end with exit code 3 and a message naming the key, file or column."""
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import reference_integration  # noqa: E402
import cli_checks  # noqa: E402
from cli_args import parse_cli_test_args  # noqa: E402
from cli_checks import check, run_omniseg  # noqa: E402

run = run_omniseg


def generate(args, out, dirty_rate):
    done = run(args, 2, "generate", "--out", out, "--customers", "1500", "--items", "400", "--orders", "30000",
               "--seed", "7", "--dirty-rate", str(dirty_rate), "--whales", "2")
    if not check(done.returncode == 0, f"generate (dirty rate {dirty_rate}) failed", done.stderr[-3000:]):
        sys.exit(1)


def blank_some_timestamps(data):
    """Empties the timestamp of the first order line of each file and of lines spread through it
    (some fall on rank boundaries): each is a missing_value reject, whichever rank reads it and
    whatever that rank parsed before (the parser reuses the previous line's timestamp)."""
    for name in ("orders_web.csv", "orders_app.csv", "orders_store.csv"):
        path = os.path.join(data, name)
        with open(path, "rb") as handle:
            lines = handle.read().splitlines(keepends=True)
        for index in sorted({1, 2, len(lines) // 4, len(lines) // 2, len(lines) // 2 + 1, 3 * len(lines) // 4}):
            body = lines[index].rstrip(b"\r\n")
            lines[index] = body[:body.rindex(b",") + 1] + lines[index][len(body):]
        with open(path, "wb") as handle:
            handle.write(b"".join(lines))


def sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def features_h5_digest(path):
    with h5py.File(path, "r") as f:
        ids = np.asarray(f["/customers/id"]).tobytes()
        matrix = np.asarray(f["/features/matrix"]).tobytes()
        names = [n.decode() if isinstance(n, bytes) else n for n in f["/features/names"][()]]
    return hashlib.sha256(ids + matrix + "|".join(names).encode()).hexdigest()


def compare_with_reference(label, out, reference):
    # Features: the CSV and the HDF5 file hold the same rows as the reference, exactly.
    with open(os.path.join(out, "features.csv"), newline="") as handle:
        table = list(csv.reader(handle))
    check(table[0] == ["customer_id"] + reference["feature_names"], f"{label}: features.csv header",
          f"{table[0]} != {reference['feature_names']}")
    rows = table[1:]
    if check(len(rows) == len(reference["rows"]), f"{label}: {len(rows)} feature rows, reference {len(reference['rows'])}"):
        bad = 0
        for got, (customer_id, expected) in zip(rows, reference["rows"]):
            values = [float(v) for v in got[1:]]
            if int(got[0]) != customer_id or values != expected:
                bad += 1
                if bad <= 3:
                    print(f"  {label}: customer {got[0]}: {values}\n  reference {customer_id}: {expected}")
        check(bad == 0, f"{label}: {bad} feature rows differ from the reference")
    with h5py.File(os.path.join(out, "features.h5"), "r") as f:
        ids = np.asarray(f["/customers/id"])
        matrix = np.asarray(f["/features/matrix"])
        check(ids.dtype == np.int64 and matrix.dtype == np.float64, f"{label}: features.h5 types")
        check(np.array_equal(ids, [c for c, _ in reference["rows"]]), f"{label}: /customers/id differs")
        check(np.array_equal(matrix, np.array([r for _, r in reference["rows"]]).reshape(matrix.shape)),
              f"{label}: /features/matrix differs from the reference")

    with open(os.path.join(out, "baskets.dat")) as handle:
        baskets = handle.read()
    check(baskets == reference["baskets"], f"{label}: baskets.dat differs from the reference "
          f"({baskets.count(chr(10))} baskets, reference {reference['baskets'].count(chr(10))})")

    with open(os.path.join(out, "summary.json")) as handle:
        summary = json.load(handle)
    accounting = summary["accounting"]
    for name, expected in reference["accounting"].items():
        got = accounting.get(name)
        check(got == expected, f"{label}: accounting of {name}", f"got {got}\nreference {expected}")
        if got:
            total = got["joined"] + got["anonymous"] + sum(got["rejected"].values())
            check(got["read"] == total, f"{label}: {name}: read {got['read']} != joined + anonymous + rejected {total}")
    check(accounting.get("identity_conflicts") == reference["identity_conflicts"],
          f"{label}: identity_conflicts {accounting.get('identity_conflicts')}, reference {reference['identity_conflicts']}")

    with open(os.path.join(out, "rejects.csv"), newline="") as handle:
        table = list(csv.reader(handle))
    check(table[0] == ["file", "line", "reason", "column", "raw"], f"{label}: rejects.csv header {table[0]}")
    got = sorted((r[0], int(r[1]), r[2]) for r in table[1:])
    expected = sorted(reference["rejects"])
    check(got == expected, f"{label}: rejects.csv rows differ from the reference ({len(got)} vs {len(expected)})",
          f"only in rejects.csv: {sorted(set(got) - set(expected))[:5]}\nonly in reference: {sorted(set(expected) - set(got))[:5]}")
    return summary


def compare_with_truth(label, data, summary):
    """The generator's own count of the dirty rows it planted, per file and reason."""
    with h5py.File(os.path.join(data, "truth.h5"), "r") as f:
        files = [n.decode() if isinstance(n, bytes) else n for n in f["/dirty/files"][()]]
        reasons = [n.decode() if isinstance(n, bytes) else n for n in f["/dirty/reasons"][()]]
        counts = np.asarray(f["/dirty/counts"])
        conflict_keys = int(f["/"].attrs.get("identity_conflict_keys", f["/dirty"].attrs.get("identity_conflict_keys", -1)))
    for i, name in enumerate(files):
        planted = {reasons[j]: int(counts[i, j]) for j in range(len(reasons)) if counts[i, j] > 0}
        got = summary["accounting"].get(name, {}).get("rejected")
        check(got == planted, f"{label}: rejects of {name} differ from what the generator planted",
              f"got {got}\nplanted {planted}")
    check(summary["accounting"]["identity_conflicts"] == conflict_keys,
          f"{label}: identity_conflicts {summary['accounting']['identity_conflicts']}, planted {conflict_keys}")


def integrate(args, ranks, data, out):
    done = run(args, ranks, "integrate", "--config", os.path.join(data, "job.toml"), "--output", out)
    check(done.returncode == 0, f"integrate at {ranks} ranks failed (exit {done.returncode})", done.stderr[-3000:])
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    check(len(lines) == 1 and json.loads(lines[0])["command"] == "integrate", "one JSON line on stdout", done.stdout)
    return done.returncode == 0


def other_strategies(args, data, work):
    """The same job with every join shuffled instead of broadcast, the whale keys treated as heavy,
    and a send budget of about 1 KB (hundreds of all-to-all rounds): the outputs must not change."""
    with open(os.path.join(data, "job.toml")) as handle:
        config = handle.read()
    config += "\n[engine]\nbroadcast_threshold_mb = 0\nheavy_key_share = 0.02\nmemory_budget_mb = 0.001\n"
    variant = os.path.join(data, "job-strategies.toml")
    with open(variant, "w") as handle:
        handle.write(config)
    ranks = args.ranks[-1]
    out = os.path.join(work, "out-strategies")
    done = run(args, ranks, "integrate", "--config", variant, "--output", out)
    if not check(done.returncode == 0, f"integrate with forced strategies at {ranks} ranks failed", done.stderr[-3000:]):
        return {}
    with open(os.path.join(out, "summary.json")) as handle:
        joins = json.load(handle)["joins"]
    check(all(join["strategy"] == "shuffle" for join in joins), "forced strategies: every join shuffles", json.dumps(joins))
    if ranks > 1:
        check(any(join["heavy_keys"] > 0 for join in joins), "forced strategies: the whale keys are heavy", json.dumps(joins))
    print(f"ok: forced strategies at {ranks} ranks: {json.dumps(joins)}")
    return {f"{ranks} ranks, forced strategies": [sha(os.path.join(out, n)) for n in ("features.csv", "baskets.dat", "rejects.csv")]
            + [features_h5_digest(os.path.join(out, "features.h5"))]}


def expect_error(args, name, config_path, message):
    out = os.path.join(os.path.dirname(config_path), "out-" + name)
    done = run(args, args.ranks[-1], "integrate", "--config", config_path, "--output", out)
    check(done.returncode == 3, f"{name}: exit code {done.returncode}, expected 3", done.stderr[-2000:])
    check(message in done.stderr, f"{name}: '{message}' not in stderr", done.stderr[-2000:])
    print(f"ok: {name} -> error")


def bad_inputs(args, data, work):
    with open(os.path.join(data, "job.toml")) as handle:
        config = handle.read()

    def variant(name, text, files=None):
        folder = os.path.join(work, "bad-" + name)
        shutil.copytree(data, folder)
        with open(os.path.join(folder, "job.toml"), "w") as handle:
            handle.write(text)
        for file_name, content in (files or {}).items():
            with open(os.path.join(folder, file_name), "w") as handle:
                handle.write(content)
        return os.path.join(folder, "job.toml")

    expect_error(args, "unknown-key", variant("unknown-key", config.replace("top_categories", "top_categroies")),
                 "unknown key 'features.top_categroies'")
    expect_error(args, "wrong-type", variant("wrong-type", config.replace("top_categories = 8", "top_categories = \"8\"")),
                 "'features.top_categories' must be an integer")
    expect_error(args, "missing-file", variant("missing-file", config.replace('"items.csv"', '"no-such-items.csv"')),
                 "no-such-items.csv")
    expect_error(args, "missing-column",
                 variant("missing-column", config, {"items.csv": "item_id,brand,list_price\n1,b,2.00\n"}),
                 "missing column 'category'")
    expect_error(args, "bad-as-of", variant("bad-as-of", config.replace('as_of = "', 'as_of = "x')),
                 "features.as_of")


def main():
    args = parse_cli_test_args()

    with tempfile.TemporaryDirectory(prefix="omniseg-integrate-") as work:
        for dirty_rate in (0, 0.03):
            data = os.path.join(work, f"data-{dirty_rate}")
            generate(args, data, dirty_rate)
            if dirty_rate == 0:
                blank_some_timestamps(data)
                # The clean job writes its outputs around the page cache (every file of at least 4 KiB
                # a rank); the dirty one through it (the default threshold of 4 MiB a rank).
                config = os.path.join(data, "job.toml")
                with open(config) as handle:
                    text = handle.read()
                check("[output]\n" in text, "the generated job.toml has no [output] table", text)
                with open(config, "w") as handle:
                    handle.write(text.replace("[output]\n", "[output]\nbypass_page_cache_min_kib = 4\n"))
            reference = reference_integration.integrate(os.path.join(data, "job.toml"))
            digests = {}
            for ranks in args.ranks:
                label = f"dirty {dirty_rate}, {ranks} ranks"
                out = os.path.join(work, f"out-{dirty_rate}-{ranks}")
                if not integrate(args, ranks, data, out):
                    continue
                summary = compare_with_reference(label, out, reference)
                if dirty_rate > 0:
                    compare_with_truth(label, data, summary)
                digests[ranks] = [sha(os.path.join(out, n)) for n in ("features.csv", "baskets.dat", "rejects.csv")]
                digests[ranks].append(features_h5_digest(os.path.join(out, "features.h5")))
                print(f"ok: {label}: {summary['customers']} customers, {summary['baskets']} baskets, "
                      f"{summary['rejected']} rejected")
            if dirty_rate > 0 and digests:
                digests.update(other_strategies(args, data, work))
            check(len(set(map(tuple, digests.values()))) == 1,
                  f"dirty {dirty_rate}: outputs differ across rank counts or join strategies", json.dumps(digests, indent=1))
        bad_inputs(args, os.path.join(work, "data-0.03"), work)
    print("integrate_cli:", "FAILED" if cli_checks.failures else "passed")
    sys.exit(1 if cli_checks.failures else 0)


if __name__ == "__main__":
    main()
