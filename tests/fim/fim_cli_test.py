#!/usr/bin/python3
"""`omniseg fim` end to end on small hand-made inputs: dirty input that must give a correct result
(checked against a brute-force miner written here), and bad input that must give a clear error
(exit code 3, a message naming the file and line) on every rank count."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py

from brute_force import frequent_itemsets


def condensed(frequent, kind):
    """The closed (no proper superset with the same support) or maximal (no frequent proper
    superset) itemsets among `frequent`, by the definition."""
    keep = {}
    for items, support in frequent.items():
        supersets = [s for t, s in frequent.items() if len(t) > len(items) and set(items) < set(t)]
        if kind == "closed" and all(s != support for s in supersets):
            keep[items] = support
        if kind == "maximal" and not supersets:
            keep[items] = support
    return keep


class Runner:
    def __init__(self, args, work):
        self.args, self.work, self.failures = args, work, 0

    def fim(self, name, content, *options):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(content)
        out = os.path.join(self.work, name + ".out")
        command = self.args.mpiexec.split() + ["-n", str(self.args.ranks), self.args.omniseg, "fim", "--input", path,
                                               "--output", out, "--text", *options]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        return path, out, done

    def check(self, condition, what, done=None):
        if not condition:
            self.failures += 1
            print(f"FAIL: {what}" + (f"\n--- stderr ---\n{done.stderr[-2000:]}" if done else ""))

    def expect_result(self, name, content, transactions, min_support, *options):
        path, out, done = self.fim(name, content, "--min-support", str(min_support), *options)
        self.check(done.returncode == 0, f"{name}: exit code {done.returncode}", done)
        if done.returncode != 0:
            return
        summary = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][0])
        max_size = int(options[options.index("--max-size") + 1]) if "--max-size" in options else 0
        kind = "closed" if "--closed" in options else "maximal" if "--maximal" in options else None
        # Closed/maximal up to size L are decided with the supersets of any size.
        expected = frequent_itemsets(transactions, summary["min_support"], 0 if kind else max_size)
        if kind:
            expected = {t: s for t, s in condensed(expected, kind).items() if not max_size or len(t) <= max_size}
        got = {}
        for line in open(out + ".txt"):
            items, support = line.rstrip("\n").split(" #SUP: ")
            got[tuple(map(int, items.split()))] = int(support)
        self.check(got == expected, f"{name}: itemsets {sorted(got.items())[:10]} != {sorted(expected.items())[:10]}")
        self.check(summary["transactions"] == len(transactions),
                   f"{name}: {summary['transactions']} transactions, expected {len(transactions)}")
        self.check(summary["itemsets"] == len(expected), f"{name}: summary says {summary['itemsets']} itemsets")
        with h5py.File(out + ".h5", "r") as f:
            self.check(int(f["/"].attrs["complete"]) == 1, f"{name}: HDF5 file not marked complete")
            self.check(len(f["/fim/support"]) == len(expected), f"{name}: /fim/support has {len(f['/fim/support'])} rows")
        print(f"ok: {name}")

    def expect_error(self, name, content, message, *options):
        path, out, done = self.fim(name, content, *options)
        self.check(done.returncode == 3, f"{name}: exit code {done.returncode}, expected 3", done)
        self.check(message in done.stderr, f"{name}: '{message}' not in stderr", done)
        self.check(not os.path.exists(out + ".h5"), f"{name}: an output file was written despite the error")
        print(f"ok: {name} -> error")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--omniseg", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", type=int, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        r = Runner(args, work)
        clean = [{1, 2, 3}, {2, 3}, {1, 3, 5}, {2, 3, 5}, {1, 2, 3, 5}, {5}]
        text = b"1 2 3\n2 3\n1 3 5\n2 3 5\n1 2 3 5\n5\n"
        r.expect_result("clean.dat", text, clean, 2)
        r.expect_result("fraction.dat", text, clean, 0.5)
        r.expect_result("max_size.dat", text, clean, 2, "--max-size", "2")
        r.expect_result("closed.dat", text, clean, 2, "--closed")
        r.expect_result("maximal.dat", text, clean, 1, "--maximal")
        r.expect_result("closed_max_size.dat", text, clean, 1, "--closed", "--max-size", "2")
        r.expect_result("maximal_max_size.dat", text, clean, 2, "--maximal", "--max-size", "2")
        r.expect_result("crlf_no_final_newline.dat", text.replace(b"\n", b"\r\n")[:-2], clean, 2)
        r.expect_result("bom_tabs_spaces.dat", b"\xef\xbb\xbf1\t2  3 \n 2 3\n1 3 5\n2 3 5\n1 2 3 5\n5\n", clean, 2)
        r.expect_result("duplicates.dat", b"1 1 2 3 3\n2 3 2\n1 3 5\n2 3 5\n1 2 3 5\n5 5\n", clean, 2)
        r.expect_result("empty_lines_count.dat", b"\n1 2\n\n1 2\n\n", [set(), {1, 2}, set(), {1, 2}, set()], 2)
        huge = 18446744073709551615
        r.expect_result("huge_ids.dat", f"{huge} 7\n{huge} 7\n{huge}\n".encode(), [{huge, 7}, {huge, 7}, {huge}], 2)
        r.expect_result("single_line.dat", b"4 8 15 16 23 42", [{4, 8, 15, 16, 23, 42}], 1)
        r.expect_result("through_page_cache.dat", text, clean, 2, "--bypass-page-cache", "false")
        _, _, done = r.fim("bad_switch.dat", text, "--min-support", "2", "--bypass-page-cache", "maybe")
        r.check(done.returncode == 2 and "--bypass-page-cache" in done.stderr,
                f"--bypass-page-cache maybe: exit code {done.returncode}, expected a usage error naming the option", done)
        r.expect_error("letters.dat", b"1 2\n3 x4\n", "letters.dat:2", "--min-support", "1")
        r.expect_error("negative.dat", b"1 2\n1 2\n\n-3 1\n", "negative.dat:4", "--min-support", "1")
        r.expect_error("decimal.dat", b"1.5\n", "decimal.dat:1", "--min-support", "1")
        r.expect_error("overflow.dat", b"1\n18446744073709551616\n", "overflow.dat:2", "--min-support", "1")
        r.expect_error("zero_support.dat", text, "--min-support must be a positive", "--min-support", "0")
        r.expect_error("negative_support.dat", text, "--min-support must be a positive", "--min-support", "-2")
        r.expect_error("non_integer_count.dat", text, "must be an integer", "--min-support", "2.5")
        r.expect_error("support_too_large.dat", text, "has only 6", "--min-support", "7")
        r.expect_error("empty.dat", b"", "has only 0", "--min-support", "1")
        missing = os.path.join(work, "does_not_exist.dat")
        command = args.mpiexec.split() + ["-n", str(args.ranks), args.omniseg, "fim", "--input", missing,
                                          "--min-support", "1", "--output", os.path.join(work, "x")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        r.check(done.returncode != 0 and missing in done.stderr, "missing file: no clear error", done)
    print(f"{r.failures} failure(s)")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
