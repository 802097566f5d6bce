#!/usr/bin/python3
"""`omniseg generate` end to end.

1. The files are byte-identical (SHA-256) at every rank count given, and truth.h5 holds the same
   datasets and attributes.
2. An independent oracle, written here from the documented rules of the integration pipeline
   (docs/formats.md) with Python's csv module, recomputes from the CSV files alone the rejects every
   file must produce, per reason, and compares them with truth.h5's /dirty/counts. The integration
   tests rely on truth.h5, so this is what makes it trustworthy.
3. Structure: row counts, 1-3 keys per customer, key formats, order ids unique per channel and the
   lines of an order sharing key and timestamp, a clean file set at --dirty-rate 0, formatting
   variants (BOM, CRLF, no final newline, quoted fields), whale share, returns, planted itemsets,
   segments that differ in frequency, channel mix and recency.
4. Bad options: exit code 3 and a message naming the option; an unwritable --out: a clear error.

`expected_rejects(directory)` is importable: it returns {(file, reason): count} and the number of
identity keys mapped to more than one customer.
"""
import collections
import csv
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_args import parse_cli_test_args  # noqa: E402

CSV_FILES = ["customers.csv", "identity.csv", "items.csv", "orders_web.csv", "orders_app.csv", "orders_store.csv"]
ORDER_FILES = {"web": "orders_web.csv", "app": "orders_app.csv", "store": "orders_store.csv"}
REASONS = ["wrong_column_count", "bad_quoting", "empty_line", "missing_value", "bad_number", "bad_date",
           "bad_timestamp", "bad_value", "duplicate_key", "identity_conflict", "unknown_item", "unknown_channel_key",
           "unknown_customer"]
HEADERS = {
    "customers.csv": ["customer_id", "region", "signup_date"],
    "identity.csv": ["channel", "channel_key", "customer_id"],
    "items.csv": ["item_id", "category", "brand", "list_price"],
}
for _name in ORDER_FILES.values():
    HEADERS[_name] = ["order_id", "channel_key", "item_id", "quantity", "unit_price", "ts"]

KEY_FORMATS = {
    "web": re.compile(r'^("[a-z\']+, [a-z]\d+"|[a-z]+\.[a-z\']+\d+)@[a-z.]+$'),
    "app": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "store": re.compile(r"^LC\d{12}$"),
}


# ---- the oracle: the pipeline's rules, written independently ------------------------------------

INTEGER = re.compile(r"^[+-]?\d+$")
DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?$")


def check_integer(text):
    if text == "":
        return "missing_value"
    if not INTEGER.match(text) or not -2**63 <= int(text) < 2**63:
        return "bad_number"
    return None


def check_decimal(text):
    if text == "":
        return "missing_value"
    if not DECIMAL.match(text):
        return "bad_number"
    fraction = text.split(".")[1] if "." in text else ""
    return "bad_number" if len(fraction.rstrip("0")) > 4 else None


def check_date(text):
    if text == "":
        return "missing_value"
    try:
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
            raise ValueError
        datetime.date.fromisoformat(text)
        return None
    except ValueError:
        return "bad_date"


def check_timestamp(text):
    if text == "":
        return "missing_value"
    m = TIMESTAMP.match(text)
    try:
        if not m:
            raise ValueError
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
        datetime.datetime(y, mo, d, int(m[4] or 0), int(m[5] or 0), int(m[6] or 0))
        return None
    except ValueError:
        return "bad_timestamp"


def records(path):
    """(line number, record text) of every data record. The generator writes no line breaks inside
    quoted fields (checked), so records are physical lines; the BOM and CR of CRLF are removed."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline ends the last record
    result = []
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = line[:-1]
        assert line.count('"') % 2 == 0, f"{path}:{number}: a quoted field spans lines"
        result.append((number, line))
    return result[0][1], result[1:]


def split_fields(header, record):
    """The fields of a record, or the structural reject reason."""
    if record == "":
        return None, "empty_line"
    try:
        fields = next(csv.reader([record], strict=True))
    except csv.Error:
        return None, "bad_quoting"
    if len(fields) != len(header):
        return None, "wrong_column_count"
    return dict(zip(header, fields)), None


def expected_rejects(directory):
    """Rejects per (file, reason) that the integration pipeline must report for the files in
    `directory`, and the number of identity keys that map to more than one customer."""
    rejects = collections.Counter()

    def table(name):
        header_text, rows = records(os.path.join(directory, name))
        header = next(csv.reader([header_text]))
        for number, record in rows:
            fields, problem = split_fields(header, record)
            if problem:
                rejects[(name, problem)] += 1
                continue
            yield number, fields

    customers = set()
    for _, f in table("customers.csv"):
        problem = check_integer(f["customer_id"]) or check_date(f["signup_date"])
        if problem:
            rejects[("customers.csv", problem)] += 1
        elif int(f["customer_id"]) in customers:
            rejects[("customers.csv", "duplicate_key")] += 1  # the first line of an id wins
        else:
            customers.add(int(f["customer_id"]))

    items = set()
    for _, f in table("items.csv"):
        problem = check_integer(f["item_id"]) or ("missing_value" if f["category"] == "" else None)
        problem = problem or (check_decimal(f["list_price"]) if f["list_price"] != "" else None)
        if problem:
            rejects[("items.csv", problem)] += 1
        elif int(f["item_id"]) in items:
            rejects[("items.csv", "duplicate_key")] += 1
        else:
            items.add(int(f["item_id"]))

    by_key = collections.defaultdict(list)
    for number, f in table("identity.csv"):
        problem = "missing_value" if f["channel"] == "" else None
        problem = problem or ("bad_value" if f["channel"] not in ORDER_FILES else None)
        problem = problem or ("missing_value" if f["channel_key"] == "" else None)
        problem = problem or check_integer(f["customer_id"])
        if problem:
            rejects[("identity.csv", problem)] += 1
        else:
            by_key[(f["channel"], f["channel_key"])].append((int(f["customer_id"]), number))
    identity, conflict_keys = {}, 0
    for key, mappings in by_key.items():
        mappings.sort()
        kept = mappings[0][0]  # the lowest customer_id wins
        identity[key] = kept
        conflict_keys += any(c != kept for c, _ in mappings[1:])
        for c, _ in mappings[1:]:
            rejects[("identity.csv", "duplicate_key" if c == kept else "identity_conflict")] += 1

    for channel, name in ORDER_FILES.items():
        for _, f in table(name):
            problem = check_integer(f["order_id"]) or check_integer(f["item_id"]) or check_integer(f["quantity"])
            if not problem and abs(int(f["quantity"])) > 10**9:
                problem = "bad_number"
            problem = problem or check_decimal(f["unit_price"]) or check_timestamp(f["ts"])
            if not problem and int(f["item_id"]) not in items:
                problem = "unknown_item"
            if not problem and f["channel_key"] != "":
                customer = identity.get((channel, f["channel_key"]))
                if customer is None:
                    problem = "unknown_channel_key"
                elif customer not in customers:
                    problem = "unknown_customer"
            if problem:
                rejects[(name, problem)] += 1
    return rejects, conflict_keys


# ---- helpers -------------------------------------------------------------------------------------

class Runner:
    def __init__(self, args, work):
        self.args, self.work, self.failures = args, work, 0

    def check(self, condition, what, done=None):
        if not condition:
            self.failures += 1
            print(f"FAIL: {what}" + (f"\n--- stderr ---\n{done.stderr[-3000:]}" if done else ""), flush=True)
        return condition

    def generate(self, ranks, out, *options):
        command = self.args.mpiexec.split() + ["-n", str(ranks), self.args.omniseg, "generate", "--out", out, *options]
        return subprocess.run(command, capture_output=True, text=True, timeout=600)

    def summary(self, done):
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        return json.loads(lines[0]) if len(lines) == 1 else None


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def truth_content(path):
    """Every dataset and attribute of truth.h5, comparable with ==."""
    content = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for key, value in obj.attrs.items():
                content[f"{name}@{key}"] = value.tolist() if hasattr(value, "tolist") else value
            if isinstance(obj, h5py.Dataset):
                content[name] = obj[()].tolist()
        f.visititems(visit)
        for key, value in f.attrs.items():
            content[f"/@{key}"] = value.tolist() if hasattr(value, "tolist") else value
    return content


def parsed_rows(directory, name):
    """The rows of a file that parse (dicts), for the structural checks."""
    header_text, rows = records(os.path.join(directory, name))
    header = next(csv.reader([header_text]))
    result = []
    for number, record in rows:
        fields, problem = split_fields(header, record)
        if not problem:
            fields["_line"] = number
            result.append(fields)
    return result


# ---- the checks ----------------------------------------------------------------------------------

def check_identical(r, name, options):
    """Same bytes at every rank count; returns the directory written at the first one."""
    digests, truths, first, failures = {}, {}, None, r.failures
    for ranks in r.args.ranks:
        out = os.path.join(r.work, f"{name}_np{ranks}")
        done = r.generate(ranks, out, *options)
        if not r.check(done.returncode == 0, f"{name} at {ranks} ranks: exit code {done.returncode}", done):
            continue
        summary = r.summary(done)
        r.check(summary is not None and summary["ranks"] == ranks, f"{name}: one JSON summary line expected", done)
        digests[ranks] = {f: sha256(os.path.join(out, f)) for f in CSV_FILES + ["job.toml"]}
        truths[ranks] = truth_content(os.path.join(out, "truth.h5"))
        first = first or (out, summary)
    base = r.args.ranks[0]
    for ranks in digests:
        for f in digests[ranks]:
            r.check(digests[ranks][f] == digests[base][f], f"{name}: {f} differs between {base} and {ranks} ranks")
        r.check(truths[ranks] == truths[base], f"{name}: truth.h5 differs between {base} and {ranks} ranks")
    if r.failures == failures:
        print(f"ok: {name}: identical at ranks {sorted(digests)}", flush=True)
    return first


def check_oracle(r, name, directory):
    """truth.h5's dirty counts against the oracle; returns the truth counts by (file, reason)."""
    rejects, conflict_keys = expected_rejects(directory)
    with h5py.File(os.path.join(directory, "truth.h5"), "r") as f:
        files = [x.decode() for x in f["/dirty/files"][:]]
        reasons = [x.decode() for x in f["/dirty/reasons"][:]]
        counts = f["/dirty/counts"][:]
        truth_conflicts = int(f["/dirty"].attrs["identity_conflict_keys"])
    r.check(files == CSV_FILES, f"{name}: /dirty/files {files}")
    r.check(reasons == REASONS, f"{name}: /dirty/reasons {reasons}")
    truth = {(fi, re_): int(counts[i, j]) for i, fi in enumerate(files) for j, re_ in enumerate(reasons)}
    for key in sorted(set(truth) | set(rejects)):
        r.check(truth.get(key, 0) == rejects.get(key, 0),
                f"{name}: {key[0]} {key[1]}: truth.h5 says {truth.get(key, 0)}, the oracle finds {rejects.get(key, 0)}")
    r.check(truth_conflicts == conflict_keys, f"{name}: identity_conflict_keys {truth_conflicts} != {conflict_keys}")
    print(f"ok: {name}: truth.h5 dirty counts match the oracle ({sum(rejects.values())} rejects)", flush=True)
    return truth


def check_structure(r, name, directory, summary, customers, items, lines, clean):
    with open(os.path.join(directory, "orders_app.csv"), "rb") as f:
        r.check(f.read(3) == b"\xef\xbb\xbf", f"{name}: orders_app.csv does not start with a BOM")
    with open(os.path.join(directory, "orders_store.csv"), "rb") as f:
        store = f.read()
    r.check(store.count(b"\n") == store.count(b"\r\n") and store.endswith(b"\r\n"), f"{name}: orders_store.csv not CRLF")
    with open(os.path.join(directory, "items.csv"), "rb") as f:
        r.check(not f.read().endswith(b"\n"), f"{name}: items.csv ends with a newline")
    for file in ["customers.csv", "identity.csv", "orders_web.csv", "orders_app.csv"]:
        with open(os.path.join(directory, file), "rb") as f:
            content = f.read()
            r.check(content.endswith(b"\n") and b"\r" not in content, f"{name}: {file} is not LF-terminated")

    # Row counts: the summary against the files, order lines = L, customers = N + planted extras.
    counts = {f: len(records(os.path.join(directory, f))[1]) for f in CSV_FILES}
    for f in CSV_FILES:
        r.check(summary["files"][f]["rows"] == counts[f], f"{name}: summary says {summary['files'][f]['rows']} rows "
                                                          f"in {f}, the file has {counts[f]}")
    r.check(sum(counts[f] for f in ORDER_FILES.values()) == lines, f"{name}: order lines {counts} != {lines}")
    r.check(counts["customers.csv"] == customers + summary["files"]["customers.csv"]["expected_rejects"],
            f"{name}: customers.csv rows {counts['customers.csv']} != N + planted")
    r.check(counts["items.csv"] == items + summary["files"]["items.csv"]["expected_rejects"],
            f"{name}: items.csv rows {counts['items.csv']} != M + planted")

    customer_rows = parsed_rows(directory, "customers.csv")
    ids = [int(c["customer_id"]) for c in customer_rows if check_integer(c["customer_id"]) is None]
    with h5py.File(os.path.join(directory, "truth.h5"), "r") as f:
        truth_ids = f["/customers/id"][:].tolist()
        segments = f["/customers/segment"][:].tolist()
        segment_names = [x.decode() for x in f["/segments/names"][:]]
        whale_ids = set(f["/whales/customer_id"][:].tolist())
        offsets, itemset_items = f["/itemsets/offsets"][:], f["/itemsets/items"][:]
    r.check(len(truth_ids) == customers and truth_ids == sorted(set(truth_ids)), f"{name}: /customers/id not N unique")
    r.check(truth_ids != list(range(customers)), f"{name}: customer ids are simply 0..N-1")
    r.check(set(truth_ids) <= set(ids), f"{name}: a truth customer is missing from customers.csv")
    segment_of = dict(zip(truth_ids, segments))
    r.check(any(',' in c["region"] for c in customer_rows), f"{name}: no region with a comma")

    # Keys: formats, 1-3 per customer, unique per (channel, key).
    identity_rows = [row for row in parsed_rows(directory, "identity.csv")
                     if row["channel"] in ORDER_FILES and row["channel_key"] and check_integer(row["customer_id"]) is None]
    keys_of = collections.defaultdict(set)
    key_owner = {}
    for row in identity_rows:
        channel, key, customer = row["channel"], row["channel_key"], int(row["customer_id"])
        r.check(KEY_FORMATS[channel].match(key) is not None, f"{name}: {channel} key {key!r} has the wrong format")
        key_owner.setdefault((channel, key), customer)
        key_owner[(channel, key)] = min(key_owner[(channel, key)], customer)
    for (channel, key), customer in key_owner.items():
        keys_of[customer].add((channel, key))
    per_customer = [len(keys_of[c]) for c in truth_ids]
    if clean:
        r.check(all(1 <= k <= 3 for k in per_customer), f"{name}: a customer without 1-3 keys")
        r.check(len(identity_rows) == len(key_owner), f"{name}: a (channel, key) appears twice in a clean identity.csv")
    else:
        r.check(all(k <= 3 for k in per_customer), f"{name}: a customer with more than 3 keys")
    r.check(sum(1 for k in key_owner if k[0] == "web" and '"' in k[1]) > 0 or customers < 100,
            f"{name}: no quoted web key")

    # Orders: ids unique per channel, one order's lines contiguous with one key and one timestamp.
    item_ids = {int(i["item_id"]) for i in parsed_rows(directory, "items.csv") if check_integer(i["item_id"]) is None}
    lines_by_customer = collections.Counter()
    last_ts = {}
    channel_lines = collections.defaultdict(collections.Counter)
    whale_lines = returns = all_lines = anonymous = store_lines = 0
    baskets = collections.defaultdict(set)
    max_ts = ""
    for channel, file in ORDER_FILES.items():
        runs, previous, order_attributes = set(), None, {}
        for row in parsed_rows(directory, file):
            if check_integer(row["order_id"]) or check_integer(row["item_id"]) or check_integer(row["quantity"]):
                continue
            if check_timestamp(row["ts"]) or check_decimal(row["unit_price"]):
                continue
            all_lines += 1
            order_id = row["order_id"]
            if order_id != previous:
                r.check(order_id not in runs, f"{name}: order {order_id} of {file} is not contiguous / not unique")
                runs.add(order_id)
                previous = order_id
                order_attributes[order_id] = (row["channel_key"], row["ts"])
            elif clean:
                r.check(order_attributes[order_id] == (row["channel_key"], row["ts"]),
                        f"{name}: the lines of order {order_id} of {file} differ in key or ts")
            max_ts = max(max_ts, row["ts"])
            returns += int(row["quantity"]) < 0
            if int(row["quantity"]) > 0:
                baskets[(channel, order_id)].add(int(row["item_id"]))
            if channel == "store":
                store_lines += 1
                anonymous += row["channel_key"] == ""
            if clean:
                r.check(int(row["item_id"]) in item_ids, f"{name}: {file}:{row['_line']}: unknown item")
                r.check(row["channel_key"] == "" or (channel, row["channel_key"]) in key_owner,
                        f"{name}: {file}:{row['_line']}: unknown key")
            customer = key_owner.get((channel, row["channel_key"]))
            if customer in segment_of:
                lines_by_customer[customer] += 1
                channel_lines[segment_of[customer]][channel] += 1
                last_ts[customer] = max(last_ts.get(customer, ""), row["ts"])
                whale_lines += customer in whale_ids
    if clean:
        r.check(all(c in set(truth_ids) for c in key_owner.values()), f"{name}: an identity row for an unknown customer")

    with open(os.path.join(directory, "job.toml"), "rb") as f:
        job = tomllib.load(f)
    r.check([o["file"] for o in job["input"]["orders"]] == list(ORDER_FILES.values()), f"{name}: job.toml orders")
    r.check(job["input"]["customers"]["file"] == "customers.csv" and job["output"]["directory"] == "out",
            f"{name}: job.toml tables")
    r.check(max_ts == "" or max_ts < str(job["features"]["as_of"]), f"{name}: as_of {job['features']['as_of']} "
                                                                    f"is not after the last timestamp {max_ts}")
    print(f"ok: {name}: formats, row counts, keys, orders", flush=True)
    return dict(segment_of=segment_of, segment_names=segment_names, lines_by_customer=lines_by_customer,
                channel_lines=channel_lines, last_ts=last_ts, whale_lines=whale_lines, all_lines=all_lines,
                returns=returns, anonymous=anonymous, store_lines=store_lines, baskets=baskets,
                itemsets=[set(itemset_items[offsets[t]:offsets[t + 1]].tolist()) for t in range(len(offsets) - 1)])


def check_behaviour(r, name, facts):
    """The latent structure the pipeline's features, K-means and itemset mining should find."""
    total = facts["all_lines"]
    whale_share = facts["whale_lines"] / total
    r.check(0.25 < whale_share < 0.36, f"{name}: the whales hold {whale_share:.3f} of the lines, expected ~0.3")
    return_share = facts["returns"] / total
    r.check(0.01 < return_share < 0.03, f"{name}: {return_share:.4f} of the lines are returns, expected ~0.02")
    anonymous_share = facts["anonymous"] / facts["store_lines"]
    r.check(0.05 < anonymous_share < 0.25, f"{name}: {anonymous_share:.3f} of the store lines are anonymous")
    for itemset in facts["itemsets"]:
        support = sum(1 for basket in facts["baskets"].values() if itemset <= basket)
        r.check(support >= 20, f"{name}: planted itemset {sorted(itemset)} in only {support} baskets")

    names = facts["segment_names"]
    members = collections.defaultdict(list)
    for customer, segment in facts["segment_of"].items():
        members[segment].append(customer)
    mean_lines = {}  # whales (more than 5% of all lines) would dominate their segment's mean: left out
    for segment, customers in members.items():
        counts = [facts["lines_by_customer"][c] for c in customers if facts["lines_by_customer"][c] < 0.05 * total]
        mean_lines[names[segment]] = np.mean(counts)
    frequent, lapsed = mean_lines["app_first_frequent_buyers"], mean_lines["lapsed_occasional"]
    r.check(frequent > 3 * lapsed, f"{name}: lines per customer {mean_lines}: frequent buyers not > 3x lapsed")
    share = {}
    for segment, counter in facts["channel_lines"].items():
        share[names[segment]] = {c: counter[c] / max(1, sum(counter.values())) for c in ORDER_FILES}
    r.check(share["bargain_store_shoppers"]["store"] > 0.6, f"{name}: bargain shoppers' store share {share}")
    r.check(share["app_first_frequent_buyers"]["app"] > 0.6, f"{name}: app-first buyers' app share {share}")
    r.check(share["web_big_spenders"]["web"] > 0.6, f"{name}: big spenders' web share {share}")
    lapsed_last = [facts["last_ts"][c] for c in members[names.index("lapsed_occasional")] if c in facts["last_ts"]]
    r.check(max(lapsed_last) < "2024-09-15", f"{name}: a lapsed customer ordered on {max(lapsed_last)}")
    others_last = [facts["last_ts"][c] for c in members[names.index("app_first_frequent_buyers")] if c in facts["last_ts"]]
    r.check(max(others_last) > "2025-06-01", f"{name}: frequent buyers' last order {max(others_last)}")
    print(f"ok: {name}: whales {whale_share:.3f}, returns {return_share:.4f}, lines per customer "
          + ", ".join(f"{k} {v:.1f}" for k, v in mean_lines.items()), flush=True)


def check_bad_options(r):
    ranks = r.args.ranks[-1]
    cases = [
        (["--customers", "0"], "--customers"),
        (["--items", "0"], "--items"),
        (["--orders", "-1"], "--orders"),
        (["--dirty-rate", "0.7"], "--dirty-rate"),
        (["--dirty-rate", "-0.1"], "--dirty-rate"),
        (["--customers", "5", "--whales", "6"], "--whales"),
        (["--segments", "0"], "--segments"),
        (["--segments", "21"], "--segments"),
        (["--seed", "-3"], "--seed"),
    ]
    for options, option in cases:
        out = os.path.join(r.work, "bad_" + "_".join(options).replace("-", ""))
        done = r.generate(ranks, out, *options)
        r.check(done.returncode == 3, f"{options}: exit code {done.returncode}, expected 3", done)
        r.check(option in done.stderr, f"{options}: the message does not name {option}", done)
        r.check(not os.path.exists(out), f"{options}: the output directory was created despite the error")
    blocker = os.path.join(r.work, "a_file")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    for out in [os.path.join(blocker, "sub"), blocker]:
        done = r.generate(ranks, out, "--customers", "10", "--items", "5", "--orders", "10")
        r.check(done.returncode != 0 and "--out" in done.stderr and out in done.stderr,
                f"--out {out}: no clear error (exit code {done.returncode})", done)
    print("ok: bad options -> exit code 3 naming the option; unwritable --out -> error", flush=True)


def main():
    args = parse_cli_test_args()
    with tempfile.TemporaryDirectory() as work:
        r = Runner(args, work)
        sizes = ["--customers", "3000", "--items", "400", "--orders", "120000", "--seed", "7"]
        out, summary = check_identical(r, "clean", [*sizes, "--dirty-rate", "0"])
        truth = check_oracle(r, "clean", out)
        r.check(all(v == 0 for v in truth.values()) and summary["dirty_rows_planted"] == 0,
                "clean: dirty rows planted at --dirty-rate 0")
        facts = check_structure(r, "clean", out, summary, 3000, 400, 120000, clean=True)
        check_behaviour(r, "clean", facts)

        out, summary = check_identical(r, "dirty", [*sizes, "--dirty-rate", "0.05"])
        truth = check_oracle(r, "dirty", out)
        planted = {reason for (file, reason), count in truth.items() if count > 0}
        r.check(planted == set(REASONS),
                f"dirty: reasons never planted: {set(REASONS) - planted}")
        check_structure(r, "dirty", out, summary, 3000, 400, 120000, clean=False)

        # Edge cases: every customer a whale, one item, more segments than archetypes, half dirty;
        # fewer rows than ranks; no order lines at all.
        out, summary = check_identical(r, "tiny", ["--customers", "5", "--items", "1", "--orders", "50", "--whales",
                                                   "5", "--segments", "7", "--dirty-rate", "0.5", "--seed", "3"])
        check_oracle(r, "tiny", out)
        out, summary = check_identical(r, "single", ["--customers", "1", "--items", "2", "--orders", "3",
                                                     "--whales", "0", "--segments", "1", "--dirty-rate", "0.2"])
        check_oracle(r, "single", out)
        out, summary = check_identical(r, "no_orders", ["--customers", "40", "--items", "9", "--orders", "0",
                                                        "--dirty-rate", "0.1"])
        check_oracle(r, "no_orders", out)
        check_structure(r, "no_orders", out, summary, 40, 9, 0, clean=False)

        check_bad_options(r)
    print(f"{r.failures} failure(s)")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
