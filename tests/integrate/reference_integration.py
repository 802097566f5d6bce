"""An independent, single-process reference of `omniseg integrate`, written from the documented
rules (docs/formats.md) with Python's csv module and dictionaries: what every input row becomes
(kept, joined, anonymous or rejected with which reason), the per-customer features and the baskets.
It shares no code with the C++ pipeline, so agreement is evidence that both follow the rules."""
import datetime
import os
import re
import tomllib
from collections import defaultdict

MONEY_SCALE = 4
MAX_ABS_QUANTITY = 1_000_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")
DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
                       r"(Z|[+-][0-9]{2}:?[0-9]{2})?)?")
EPOCH = datetime.date(1970, 1, 1)

CUSTOMER_ROLES = (["customer_id", "signup_date"], ["region"])
IDENTITY_ROLES = (["channel", "channel_key", "customer_id"], [])
ITEM_ROLES = (["item_id", "category"], ["brand", "list_price"])
ORDER_ROLES = (["order_id", "channel_key", "item_id", "quantity", "unit_price", "ts"], [])


class Reject(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def parse_int(text):
    if text == "":
        raise Reject("missing_value")
    if not INTEGER.fullmatch(text):
        raise Reject("bad_number")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise Reject("bad_number")
    return value


def parse_money(text):
    """Exact units of 1e-4."""
    if text == "":
        raise Reject("missing_value")
    match = DECIMAL.fullmatch(text)
    if not match or (match.group(2) == "" and not match.group(3)):
        raise Reject("bad_number")
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if len(fraction.rstrip("0")) > MONEY_SCALE:
        raise Reject("bad_number")
    fraction = (fraction + "0" * MONEY_SCALE)[:MONEY_SCALE]
    units = int(whole or "0") * 10**MONEY_SCALE + int(fraction)
    units = -units if sign == "-" else units
    if not INT64_MIN <= units <= INT64_MAX:
        raise Reject("bad_number")
    return units


def parse_date(text):
    if text == "":
        raise Reject("missing_value")
    match = DATE.fullmatch(text)
    try:
        day = datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except (AttributeError, ValueError):
        raise Reject("bad_date") from None
    return (day - EPOCH).days


def parse_timestamp(text):
    if text == "":
        raise Reject("missing_value")
    match = TIMESTAMP.fullmatch(text)
    if not match:
        raise Reject("bad_timestamp")
    try:
        day = datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        hour, minute, second = (int(match.group(g) or 0) for g in (4, 5, 6))
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError
    except ValueError:
        raise Reject("bad_timestamp") from None
    seconds = (day - EPOCH).days * 86400 + hour * 3600 + minute * 60 + second
    offset = match.group(7)
    if offset and offset != "Z":
        digits = offset[1:].replace(":", "")
        shift = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        seconds -= shift if offset[0] == "+" else -shift
    return seconds


def split_records(text):
    """(first line number, raw record) per record: a newline ends a record unless it is inside
    quotes (an odd number of quotes before it); one CR before the LF belongs to the line end."""
    records, start, line, start_line, in_quotes = [], 0, 1, 1, False
    for position, char in enumerate(text):
        if char == '"':
            in_quotes = not in_quotes
        elif char == "\n":
            if not in_quotes:
                records.append((start_line, text[start:position]))
                start, start_line = position + 1, line + 1
            line += 1
    if start < len(text):
        records.append((start_line, text[start:]))
    return [(number, record[:-1] if record.endswith("\r") else record) for number, record in records]


def split_fields(record):
    """RFC 4180 fields of one record, or None when its quoting is broken."""
    fields, position = [], 0
    while True:
        if position < len(record) and record[position] == '"':
            value, position = [], position + 1
            while True:
                if position >= len(record):
                    return None  # unterminated
                if record[position] == '"':
                    if position + 1 < len(record) and record[position + 1] == '"':
                        value.append('"')
                        position += 2
                        continue
                    position += 1
                    break
                value.append(record[position])
                position += 1
            fields.append("".join(value))
            if position == len(record):
                return fields
            if record[position] != ",":
                return None  # text after the closing quote
            position += 1
        else:
            end = record.find(",", position)
            end = len(record) if end < 0 else end
            if '"' in record[position:end]:
                return None  # a quote inside an unquoted field
            fields.append(record[position:end])
            if end == len(record):
                return fields
            position = end + 1


def read_records(path):
    """The header's fields and (line number, fields or None) for every record after it."""
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    records = split_records(text)
    if not records:
        raise ValueError(f"{path}: empty file")
    header = split_fields(records[0][1])
    return header, [(number, split_fields(record) if record else []) for number, record in records[1:]]


class Table:
    """One input file: its records split by role, rejects counted by reason."""

    def __init__(self, name, path, columns, roles, accounting):
        self.name = name
        self.header, self.records = read_records(path)
        required, optional = roles
        self.index = {}
        for role in required + optional:
            column = columns.get(role, role)
            if column in self.header:
                self.index[role] = self.header.index(column)
            elif role in required or role in columns:
                raise ValueError(f"{path}: missing column {column}")
        self.entry = accounting.setdefault(name, {"read": 0, "joined": 0, "anonymous": 0, "rejected": {}})
        self.entry["read"] += len(self.records)
        self.rejects = []  # (line, reason)

    def reject(self, line, reason):
        self.entry["rejected"][reason] = self.entry["rejected"].get(reason, 0) + 1
        self.rejects.append((self.name, line, reason))

    def rows(self, parse):
        """parse(line, fields-by-role) for each well-formed record; Reject -> counted."""
        for line, fields in self.records:
            if fields is None:
                self.reject(line, "bad_quoting")
                continue
            if not fields:
                self.reject(line, "empty_line")
                continue
            if len(fields) != len(self.header):
                self.reject(line, "wrong_column_count")
                continue
            by_role = {role: fields[i] for role, i in self.index.items()}
            try:
                parse(line, by_role)
            except Reject as problem:
                self.reject(line, problem.reason)


def integrate(config_path):
    with open(config_path, "rb") as handle:
        config = tomllib.load(handle)
    folder = os.path.dirname(os.path.abspath(config_path))
    inputs = config["input"]
    accounting = {}
    rejects = []

    def table(entry, roles):
        return Table(entry["file"], os.path.join(folder, entry["file"]), entry.get("columns", {}), roles, accounting)

    # Customers: the first line of each id wins.
    customers_table = table(inputs["customers"], CUSTOMER_ROLES)
    parsed = []
    customers_table.rows(lambda line, f: parsed.append((parse_int(f["customer_id"]), line, parse_date(f["signup_date"]))))
    customers = {}
    for customer_id, line, signup in sorted(parsed):
        if customer_id in customers:
            customers_table.reject(line, "duplicate_key")
        else:
            customers[customer_id] = signup
    customers_table.entry["joined"] = len(customers)

    # Items.
    items_table = table(inputs["items"], ITEM_ROLES)
    parsed = []

    def item(line, f):
        item_id = parse_int(f["item_id"])
        if f["category"] == "":
            raise Reject("missing_value")
        if f.get("list_price", ""):
            parse_money(f["list_price"])
        parsed.append((item_id, line, f["category"]))

    items_table.rows(item)
    items = {}
    for item_id, line, category in sorted(parsed):
        if item_id in items:
            items_table.reject(line, "duplicate_key")
        else:
            items[item_id] = category
    items_table.entry["joined"] = len(items)

    # Identity: per (channel, key) the lowest customer_id wins.
    channels = []
    for order in inputs["orders"]:
        if order["channel"] not in channels:
            channels.append(order["channel"])
    identity_table = table(inputs["identity"], IDENTITY_ROLES)
    parsed = defaultdict(list)

    def identity_row(line, f):
        if f["channel"] == "":
            raise Reject("missing_value")
        if f["channel"] not in channels:
            raise Reject("bad_value")
        if f["channel_key"] == "":
            raise Reject("missing_value")
        parsed[(f["channel"], f["channel_key"])].append((parse_int(f["customer_id"]), line))

    identity_table.rows(identity_row)
    identity = {}
    conflict_keys = 0
    for key, rows in parsed.items():
        rows.sort()
        identity[key] = rows[0][0]
        conflict_keys += any(customer != rows[0][0] for customer, _ in rows)
        for customer, line in rows[1:]:
            identity_table.reject(line, "duplicate_key" if customer == rows[0][0] else "identity_conflict")
    identity_table.entry["joined"] = len(identity)

    # Order lines.
    lines = []  # (customer_id or None, channel, order_id, item_id, ts, value_units, purchase)
    for order in inputs["orders"]:
        orders_table = table(order, ORDER_ROLES)
        channel = order["channel"]

        def order_line(line, f):
            order_id = parse_int(f["order_id"])
            item_id = parse_int(f["item_id"])
            quantity = parse_int(f["quantity"])
            if abs(quantity) > MAX_ABS_QUANTITY:
                raise Reject("bad_number")
            price = parse_money(f["unit_price"])
            ts = parse_timestamp(f["ts"])
            value = quantity * price
            if not INT64_MIN <= value <= INT64_MAX:
                raise Reject("bad_number")
            if item_id not in items:
                raise Reject("unknown_item")
            key = f["channel_key"]
            if key == "":
                orders_table.entry["anonymous"] += 1
                lines.append((None, channel, order_id, item_id, ts, value, quantity > 0))
                return
            if (channel, key) not in identity:
                raise Reject("unknown_channel_key")
            customer_id = identity[(channel, key)]
            if customer_id not in customers:
                raise Reject("unknown_customer")
            orders_table.entry["joined"] += 1
            lines.append((customer_id, channel, order_id, item_id, ts, value, quantity > 0))

        orders_table.rows(order_line)
        rejects += orders_table.rejects
    for t in (customers_table, items_table, identity_table):
        rejects += t.rejects

    # Features.
    as_of = config["features"]["as_of"]
    as_of_days = (as_of - EPOCH).days if isinstance(as_of, datetime.date) else parse_date(as_of)
    top_count = config["features"].get("top_categories", 8)
    category_gross = defaultdict(int)
    for customer_id, channel, order_id, item_id, ts, value, purchase in lines:
        if customer_id is not None and purchase:
            category_gross[items[item_id]] += value
    ranked = sorted((c for c in category_gross if category_gross[c] > 0), key=lambda c: (-category_gross[c], c))
    top = ranked[:top_count]

    per_customer = {}
    for customer_id, channel, order_id, item_id, ts, value, purchase in lines:
        if customer_id is None:
            continue
        c = per_customer.setdefault(customer_id, {"orders": set(), "last": None, "net": 0, "gross": 0,
                                                  "channel": defaultdict(int), "category": defaultdict(int)})
        c["orders"].add((channel, order_id))
        c["last"] = ts if c["last"] is None else max(c["last"], ts)
        c["net"] += value
        if purchase:
            c["gross"] += value
            c["channel"][channel] += value
            c["category"][items[item_id]] += value
    names = ["recency_days", "frequency", "monetary", "avg_basket_value", "tenure_days"]
    names += ["share_" + ch for ch in channels] + ["cat_" + cat for cat in top]
    rows = []
    for customer_id in sorted(per_customer):
        c = per_customer[customer_id]
        monetary = float(c["net"]) / 10000.0
        share = (lambda part: float(part) / float(c["gross"]) if c["gross"] > 0 else 0.0)
        row = [float(as_of_days * 86400 - c["last"]) / 86400.0, float(len(c["orders"])), monetary,
               monetary / float(len(c["orders"])), float(as_of_days - customers[customer_id])]
        row += [share(c["channel"][ch]) for ch in channels] + [share(c["category"][cat]) for cat in top]
        rows.append((customer_id, row))

    # Baskets: items bought, per (channel index, order_id).
    baskets = defaultdict(set)
    for customer_id, channel, order_id, item_id, ts, value, purchase in lines:
        if purchase:
            baskets[(channels.index(channel), order_id)].add(item_id)
    basket_text = "".join(" ".join(str(i) for i in sorted(baskets[key])) + "\n" for key in sorted(baskets))

    return {"accounting": accounting, "identity_conflicts": conflict_keys, "feature_names": names,
            "rows": rows, "baskets": basket_text, "rejects": sorted(rejects, key=lambda r: (r[0], r[1]))}
