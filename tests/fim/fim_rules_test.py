#!/usr/bin/python3
"""`omniseg fim --rules` end to end: the rules in OUT_rules.csv and in OUT.h5's /rules group are checked
against a brute-force miner and rule generator written here (every split of every frequent itemset) on
small inputs and against rules drawn here from the mined itemsets of a real data set; the CSV and the
HDF5 datasets must be identical to a 1-rank run; bad rule options must give a clear error (exit code 3,
or 2 for a value the command line cannot parse) and no output file."""
import argparse
import csv
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile

import h5py

from brute_force import frequent_itemsets

HEADER = ["antecedent", "consequent", "support_count", "support", "confidence", "lift", "leverage"]
DATASETS = ["antecedent_offsets", "antecedent_items", "consequent_offsets", "consequent_items",
            "support_count", "support", "confidence", "lift", "leverage"]


def canonical_key(rule):
    antecedent, consequent = rule[0], rule[1]
    return (len(antecedent), antecedent, len(consequent), consequent)


def brute_force_rules(itemsets, transactions, min_confidence, min_lift=0.0, top=0):
    """[(antecedent, consequent, count, support, confidence, lift, leverage)] in canonical order. The metrics
    use the same IEEE operations as omniseg (Python's int / int is the correctly rounded quotient)."""
    n = transactions
    rules = []
    for itemset, count in itemsets.items():
        for size in range(1, len(itemset)):
            for consequent in itertools.combinations(itemset, size):
                antecedent = tuple(i for i in itemset if i not in consequent)
                support = count / n
                confidence = count / itemsets[antecedent]
                lift = confidence / (itemsets[consequent] / n)
                leverage = support - (itemsets[antecedent] / n) * (itemsets[consequent] / n)
                if confidence >= min_confidence and lift >= min_lift:
                    rules.append((antecedent, consequent, count, support, confidence, lift, leverage))
    if top and len(rules) > top:
        rules.sort(key=lambda r: (-r[5], canonical_key(r)))
        rules = rules[:top]
    return sorted(rules, key=canonical_key)


def read_csv_rules(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    rules = [(tuple(map(int, r[0].split())), tuple(map(int, r[1].split())), int(r[2]), *map(float, r[3:]))
             for r in rows]
    return header, rules


def read_hdf5_rules(path):
    with h5py.File(path, "r") as f:
        g = f["/rules"]
        data = {name: g[name][:] for name in DATASETS}
        attrs = dict(g.attrs)
    rules = []
    a_off, c_off = data["antecedent_offsets"], data["consequent_offsets"]
    for i in range(len(data["support_count"])):
        rules.append((tuple(int(x) for x in data["antecedent_items"][a_off[i]:a_off[i + 1]]),
                      tuple(int(x) for x in data["consequent_items"][c_off[i]:c_off[i + 1]]),
                      int(data["support_count"][i]), float(data["support"][i]), float(data["confidence"][i]),
                      float(data["lift"][i]), float(data["leverage"][i])))
    return data, attrs, rules


def same_rules(got, expected):
    """Equal sets, counts, order and metrics; leverage within 1e-15 (a compiler may fuse its multiply and
    subtract), the other metrics exactly."""
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected):
        if g[:6] != e[:6] or abs(g[6] - e[6]) > 1e-15:
            return False
    return True


class Runner:
    def __init__(self, args, work):
        self.args, self.work, self.failures = args, work, 0

    def run(self, name, ranks, input_path, *options):
        out = os.path.join(self.work, f"{name}.np{ranks}")
        command = self.args.mpiexec.split() + ["-n", str(ranks), self.args.omniseg, "fim",
                                               "--input", input_path, "--output", out, *options]
        return out, subprocess.run(command, capture_output=True, text=True, timeout=300)

    def check(self, condition, what, done=None):
        if not condition:
            self.failures += 1
            print(f"FAIL: {what}" + (f"\n--- stderr ---\n{done.stderr[-2000:]}" if done else ""))
        return condition

    def write_input(self, name, transactions):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            for t in transactions:
                f.write(" ".join(map(str, sorted(t))) + "\n")
        return path

    def expect_rules(self, name, input_path, min_support, expected_of, *rule_options):
        """Runs at --ranks (and at 1 rank to compare); `expected_of(hdf5 path, summary)` gives the rules."""
        options = ["--min-support", str(min_support), "--rules", *rule_options]
        out, done = self.run(name, self.args.ranks, input_path, *options)
        if not self.check(done.returncode == 0, f"{name}: exit code {done.returncode}", done):
            return
        summary = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][0])
        expected = expected_of(out + ".h5", summary)
        header, csv_rules = read_csv_rules(out + "_rules.csv")
        self.check(header == HEADER, f"{name}: CSV header {header}")
        self.check(same_rules(csv_rules, expected),
                   f"{name}: CSV rules {csv_rules[:5]} ... != expected {expected[:5]} ... "
                   f"({len(csv_rules)} vs {len(expected)})")
        data, attrs, h5_rules = read_hdf5_rules(out + ".h5")
        self.check(same_rules(h5_rules, expected), f"{name}: HDF5 rules differ from expected "
                                                    f"({len(h5_rules)} vs {len(expected)})")
        self.check(h5_rules == csv_rules, f"{name}: HDF5 and CSV rules differ")
        offsets = data["antecedent_offsets"]
        self.check(len(offsets) == len(expected) + 1 and offsets[0] == 0,
                   f"{name}: /rules/antecedent_offsets has {len(offsets)} entries")
        self.check(summary["rules"] == len(expected), f"{name}: summary says {summary['rules']} rules")
        self.check(int(attrs["rules"]) == len(expected), f"{name}: /rules attribute rules = {attrs['rules']}")
        confidence = float(rule_options[rule_options.index("--min-confidence") + 1])
        self.check(float(attrs["min_confidence"]) == confidence, f"{name}: min_confidence attribute")
        if self.args.ranks != 1:
            self.compare_with_one_rank(name, input_path, options, out)
        print(f"ok: {name} ({len(expected)} rules)")

    def compare_with_one_rank(self, name, input_path, options, out):
        one, done = self.run(name, 1, input_path, *options)
        if not self.check(done.returncode == 0, f"{name}: exit code {done.returncode} at 1 rank", done):
            return
        self.check(open(one + "_rules.csv", "rb").read() == open(out + "_rules.csv", "rb").read(),
                   f"{name}: CSV at {self.args.ranks} ranks differs from 1 rank")
        with h5py.File(one + ".h5", "r") as a, h5py.File(out + ".h5", "r") as b:
            for dataset in DATASETS:
                x, y = a["/rules/" + dataset][:], b["/rules/" + dataset][:]
                # Bitwise: compare the stored bytes, not values.
                self.check(x.dtype == y.dtype and x.tobytes() == y.tobytes(),
                           f"{name}: /rules/{dataset} at {self.args.ranks} ranks differs from 1 rank")

    def expect_error(self, name, input_path, code, message, *options):
        out, done = self.run(name, self.args.ranks, input_path, *options)
        self.check(done.returncode == code, f"{name}: exit code {done.returncode}, expected {code}", done)
        self.check(message in done.stderr, f"{name}: '{message}' not in stderr", done)
        self.check(not os.path.exists(out + ".h5") and not os.path.exists(out + "_rules.csv"),
                   f"{name}: an output file was written despite the error")
        print(f"ok: {name} -> error")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--omniseg", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", type=int, required=True)
    parser.add_argument("--groceries", help="groceries.dat of the shared data sets (a larger case)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        r = Runner(args, work)

        def small_case(name, transactions, min_support, *rule_options):
            path = r.write_input(name, transactions)

            def value(option, default):
                return rule_options[rule_options.index(option) + 1] if option in rule_options else default

            def expected(h5, summary):
                itemsets = frequent_itemsets(transactions, summary["min_support"])
                return brute_force_rules(itemsets, len(transactions), float(value("--min-confidence", None)),
                                         float(value("--min-lift", 0)), int(value("--top", 0)))
            r.expect_rules(name, path, min_support, expected, *rule_options)

        clean = [{1, 2, 3}, {2, 3}, {1, 3, 5}, {2, 3, 5}, {1, 2, 3, 5}, {5}]
        small_case("clean_half", clean, 2, "--min-confidence", "0.5")
        small_case("clean_all", clean, 1, "--min-confidence", "0.01")
        small_case("clean_exact", clean, 2, "--min-confidence", "1")
        small_case("clean_lift", clean, 2, "--min-confidence", "0.3", "--min-lift", "1.1")
        small_case("clean_top1", clean, 1, "--min-confidence", "0.2", "--top", "1")
        small_case("clean_top7", clean, 1, "--min-confidence", "0.2", "--top", "7")
        small_case("clean_top_more", clean, 1, "--min-confidence", "0.2", "--top", "100000")

        rng = random.Random(7)
        big = 1 << 40
        sparse = [{big + 7919 * i for i in range(9) if rng.random() < 0.25 + 0.05 * (i % 3)}
                  for _ in range(60)]
        for confidence, lift, top in [("0.05", "0", "0"), ("0.4", "0", "0"), ("0.4", "1.2", "0"),
                                      ("0.2", "0", "9"), ("0.7", "0", "0")]:
            small_case(f"sparse_{confidence}_{lift}_{top}", sparse, 4, "--min-confidence", confidence,
                       "--min-lift", lift, "--top", top)

        # No rules: only single items are frequent, or nothing is.
        singles = [{1}, {2}, {1}, {2}, {1, 3}]
        small_case("no_rules", singles, 2, "--min-confidence", "0.1")
        small_case("nothing_frequent", singles, 5, "--min-confidence", "0.1")
        small_case("none_confident", [{1, 2}, {1, 2}, {1}, {1}, {2}, {2}], 2, "--min-confidence", "0.9")

        if args.groceries:
            # Rules drawn here from the itemsets omniseg mined (their correctness is ground_truth's job).
            def from_mined(h5, summary, min_confidence=0.3, min_lift=1.5, top=0):
                with h5py.File(h5, "r") as f:
                    offsets, items, support = f["/fim/offsets"][:], f["/fim/items"][:], f["/fim/support"][:]
                itemsets = {tuple(int(x) for x in items[offsets[i]:offsets[i + 1]]): int(support[i])
                            for i in range(len(support))}
                return brute_force_rules(itemsets, summary["transactions"], min_confidence, min_lift, top)
            r.expect_rules("groceries", args.groceries, 20, from_mined,
                           "--min-confidence", "0.3", "--min-lift", "1.5")
            r.expect_rules("groceries_top", args.groceries, 20, lambda h5, s: from_mined(h5, s, 0.1, 0, 250),
                           "--min-confidence", "0.1", "--top", "250")

        path = r.write_input("bad.dat", clean)
        r.expect_error("confidence_zero", path, 3, "--min-confidence must lie in (0, 1]",
                       "--min-support", "2", "--rules", "--min-confidence", "0")
        r.expect_error("confidence_too_big", path, 3, "--min-confidence must lie in (0, 1], got 1.5",
                       "--min-support", "2", "--rules", "--min-confidence", "1.5")
        r.expect_error("rules_without_confidence", path, 3, "--rules needs --min-confidence",
                       "--min-support", "2", "--rules")
        r.expect_error("negative_top", path, 3, "--top must be >= 0", "--min-support", "2", "--rules",
                       "--min-confidence", "0.5", "--top", "-1")
        r.expect_error("negative_lift", path, 3, "--min-lift must be a finite number >= 0",
                       "--min-support", "2", "--rules", "--min-confidence", "0.5", "--min-lift", "-1")
        r.expect_error("confidence_without_rules", path, 3, "only apply with --rules", "--min-support", "2",
                       "--min-confidence", "0.5")
        r.expect_error("confidence_not_a_number", path, 2, "--min-confidence",
                       "--min-support", "2", "--rules", "--min-confidence", "high")
    print(f"{r.failures} failure(s)")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
