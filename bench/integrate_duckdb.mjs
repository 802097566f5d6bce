// The DuckDB side of bench/integrate_bench.py: the per-customer features of `omniseg integrate`
// (docs/formats.md, "Types and rules" and "Features") as SQL over the same CSV files.
//
//   node bench/integrate_duckdb.mjs --spec SPEC.json --threads N --mode tables|direct \
//        --out FEATURES.csv [--duckdb-prefix /tmp/duckdb-peer] [--no-preserve-order] [--explain]
//
// SPEC.json is written by the driver from the job's job.toml: absolute file paths, the role -> column
// maps, the channels in config order, as_of and top_categories. Prints one JSON line (timings in
// seconds, peak resident memory of this process from /proc/self/status VmHWM). --explain prints
// DuckDB's EXPLAIN ANALYZE of the join + aggregate statement to stderr.
//
// Modes:
//   tables  (a) load: read_csv with explicit types into in-memory tables (parsing every field: BIGINT,
//           DECIMAL(18,4), TIMESTAMPTZ, DATE), identity resolved to the lowest customer_id per
//           (channel, channel_key); (b) join + aggregate: order lines x items x identity, sums per
//           customer, distinct orders per customer, x customers, top categories, feature columns;
//           (c) write the features CSV.
//   direct  the same statements reading the CSV files directly (no tables): (a) is empty, (b) is
//           everything from CSV to features, (c) the same write.
//
// Rules implemented (clean data, dirty rate 0, is what the benchmark runs; the rules that matter
// there are exact): an empty channel_key is NULL and never joins identity (anonymous line);
// identity conflicts keep min(customer_id); money is DECIMAL(18,4), a line's value
// quantity * unit_price as DECIMAL(18,4), sums DECIMAL(38,4) (exact); frequency counts distinct
// (channel, order_id) per customer; timestamps keep their UTC offset (TIMESTAMPTZ) and count whole
// seconds; shares divide integer units as doubles, like omniseg. Not implemented: duplicate customer/item rows (first line wins in
// omniseg) and the reject reasons for malformed fields - the clean data set has none.
import { readFileSync, openSync, readSync, closeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const started = performance.now();

function parseArgs(argv) {
  const args = { threads: 1, mode: 'tables', duckdbPrefix: '/tmp/duckdb-peer', preserveOrder: true };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${key} needs a value`);
      return argv[++i];
    };
    if (key === '--spec') args.spec = value();
    else if (key === '--threads') args.threads = Number(value());
    else if (key === '--mode') args.mode = value();
    else if (key === '--out') args.out = value();
    else if (key === '--duckdb-prefix') args.duckdbPrefix = value();
    else if (key === '--no-preserve-order') args.preserveOrder = false;
    else if (key === '--explain') args.explain = true;
    else throw new Error(`unknown argument ${key}`);
  }
  if (!args.spec) throw new Error('--spec is required');
  if (!['tables', 'direct'].includes(args.mode)) throw new Error('--mode is tables or direct');
  if (!(args.threads >= 1)) throw new Error('--threads must be >= 1');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const spec = JSON.parse(readFileSync(args.spec, 'utf8'));
const { DuckDBInstance } = await import(`${args.duckdbPrefix}/node_modules/@duckdb/node-api/lib/index.js`);

const quoteString = (text) => `'${String(text).replaceAll("'", "''")}'`;
const quoteName = (text) => `"${String(text).replaceAll('"', '""')}"`;

// The header of a CSV file (BOM stripped, RFC 4180 quotes), so read_csv gets every column with an
// explicit type and no sniffing: the roles' types, VARCHAR for the rest.
function csvHeader(path) {
  const fd = openSync(path, 'r');
  const buffer = Buffer.alloc(1 << 16);
  const length = readSync(fd, buffer, 0, buffer.length, 0);
  closeSync(fd);
  let text = buffer.subarray(0, length).toString('utf8');
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const fields = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { fields.push(field); field = ''; }
    else if (c === '\n' || c === '\r') break;
    else field += c;
  }
  fields.push(field);
  return fields;
}

// read_csv(...) of one input: `types` maps role -> SQL type; returns the SQL and the column name
// of each role (the job's columns map; a role left out is its own name).
function readCsv(input, types) {
  const header = csvHeader(input.file);
  const column = (role) => (input.columns && input.columns[role]) || role;
  const typeOf = {};
  for (const [role, type] of Object.entries(types)) {
    const name = column(role);
    if (!header.includes(name)) throw new Error(`${input.file}: no column ${name} (role ${role})`);
    typeOf[name] = type;
  }
  const columns = header.map((name) => `${quoteString(name)}: ${quoteString(typeOf[name] || 'VARCHAR')}`);
  const sql = `read_csv(${quoteString(input.file)}, header = true, auto_detect = false, delim = ',', ` +
    `quote = '"', escape = '"', columns = {${columns.join(', ')}})`;
  const names = {};
  for (const role of Object.keys(types)) names[role] = quoteName(column(role));
  return { sql, names };
}

const channels = spec.orders.map((o) => o.channel).filter((c, i, all) => all.indexOf(c) === i);
const channelIndex = `CASE ${channels.map((c, i) => `WHEN %s = ${quoteString(c)} THEN ${i}`).join(' ')} END`;

function customersSql() {
  const r = readCsv(spec.customers, { customer_id: 'BIGINT', signup_date: 'DATE' });
  return `SELECT ${r.names.customer_id} AS customer_id, ${r.names.signup_date} AS signup_date FROM ${r.sql}`;
}

function identitySql() {
  const r = readCsv(spec.identity, { channel: 'VARCHAR', channel_key: 'VARCHAR', customer_id: 'BIGINT' });
  const ch = channelIndex.replaceAll('%s', r.names.channel);
  return `SELECT ${ch}::UTINYINT AS ch, ${r.names.channel_key} AS channel_key, min(${r.names.customer_id}) AS customer_id ` +
    `FROM ${r.sql} WHERE ${ch} IS NOT NULL AND ${r.names.channel_key} IS NOT NULL GROUP BY ALL`;
}

function itemsSql() {
  const r = readCsv(spec.items, { item_id: 'BIGINT', category: 'VARCHAR' });
  return `SELECT ${r.names.item_id} AS item_id, ${r.names.category} AS category FROM ${r.sql}`;
}

function ordersSql() {
  return spec.orders.map((order) => {
    const r = readCsv(order, { order_id: 'BIGINT', channel_key: 'VARCHAR', item_id: 'BIGINT', quantity: 'BIGINT',
      unit_price: 'DECIMAL(18,4)', ts: 'TIMESTAMPTZ' });
    const n = r.names;
    return `SELECT ${channels.indexOf(order.channel)}::UTINYINT AS ch, ${n.order_id} AS order_id, ` +
      `${n.channel_key} AS channel_key, ${n.item_id} AS item_id, ${n.quantity} AS quantity, ` +
      `${n.unit_price} AS unit_price, ${n.ts} AS ts FROM ${r.sql}`;
  }).join('\nUNION ALL\n');
}

const instance = await DuckDBInstance.create(':memory:', {
  threads: String(args.threads),
  preserve_insertion_order: String(args.preserveOrder),
});
const connection = await instance.connect();
const run = (sql) => connection.run(sql);
const rows = async (sql) => (await connection.runAndReadAll(sql)).getRowsJson();
const version = (await rows('SELECT version()'))[0][0];
const initS = (performance.now() - started) / 1000;

const timings = {};
async function timed(name, work) {
  const start = performance.now();
  const result = await work();
  timings[name] = (performance.now() - start) / 1000;
  return result;
}

// (a) load
const source = {};
if (args.mode === 'tables') {
  await timed('load_customers', () => run(`CREATE TABLE customers AS ${customersSql()}`));
  await timed('load_items', () => run(`CREATE TABLE items AS ${itemsSql()}`));
  await timed('load_identity', () => run(`CREATE TABLE identity AS ${identitySql()}`));
  await timed('load_orders', () => run(`CREATE TABLE orders AS ${ordersSql()}`));
  Object.assign(source, { customers: 'customers', items: 'items', identity: 'identity', orders: 'orders' });
} else {
  Object.assign(source, { customers: `(${customersSql()})`, items: `(${itemsSql()})`,
    identity: `(${identitySql()})`, orders: `(${ordersSql()})` });
}
const loadS = ['load_customers', 'load_items', 'load_identity', 'load_orders']
  .reduce((sum, key) => sum + (timings[key] || 0), 0);

// (b) join + aggregate: one statement from the order lines to one row per customer. Categories get
// small ids so the per-category gross is one FILTERed sum per category in the same pass as the other
// sums; frequency is a separate DISTINCT over the same (materialised) joined lines, which measured
// cheaper than count(DISTINCT ...) beside the sums or a two-level per-order aggregation (DuckDB
// 1.5, CPU seconds at 1 and 2 threads). The customers join is the last step: every line of a
// customer has the same customer_id, so dropping unknown customers there drops the same lines. The
// top C categories are then chosen from the per-customer sums.
const joinStart = performance.now();
const mark = (name, since) => { timings[name] = (performance.now() - since) / 1000; return performance.now(); };
let since = performance.now();
const categories = (await rows(`SELECT DISTINCT category FROM ${source.items} ORDER BY category`)).map((r) => r[0]);
const categoryCase = `CASE ${categories.map((c, i) => `WHEN category = ${quoteString(c)} THEN ${i}`).join(' ')} END`;
const grossBy = (condition, name) => `coalesce(sum(value) FILTER (WHERE purchase AND ${condition}), 0) AS ${name}`;
const sums = [
  `max(ts) AS last_ts`, `sum(value) AS monetary`, `coalesce(sum(value) FILTER (WHERE purchase), 0) AS gross`,
  ...channels.map((_, i) => grossBy(`ch = ${i}`, `g${i}`)),
  ...categories.map((_, i) => grossBy(`cat = ${i}`, `c${i}`)),
];
since = mark('join_categories', since);
const perCustomerSql = `CREATE TEMP TABLE per_customer AS
  WITH items_c AS MATERIALIZED (
    SELECT item_id, (${categoryCase})::USMALLINT AS cat FROM ${source.items}
  ), lines AS MATERIALIZED (
    SELECT i.customer_id, o.ch, o.order_id, o.ts, (o.quantity * o.unit_price)::DECIMAL(18,4) AS value,
           o.quantity > 0 AS purchase, it.cat
    FROM ${source.orders} o
    JOIN items_c it ON it.item_id = o.item_id
    JOIN ${source.identity} i ON i.ch = o.ch AND i.channel_key = o.channel_key
  ), sums AS (
    SELECT customer_id, ${sums.join(',\n      ')}
    FROM lines GROUP BY customer_id
  ), frequency AS (
    SELECT customer_id, count(*) AS frequency
    FROM (SELECT DISTINCT customer_id, ch, order_id FROM lines) GROUP BY customer_id
  )
  SELECT s.*, f.frequency, floor(epoch(s.last_ts))::BIGINT AS last_s, c.signup_date
  FROM sums s JOIN frequency f ON f.customer_id = s.customer_id
  JOIN ${source.customers} c ON c.customer_id = s.customer_id`;
if (args.explain) {
  // EXPLAIN ANALYZE runs the statement: its time is in join_per_customer, the plan goes to stderr.
  const plan = await rows(`EXPLAIN ANALYZE ${perCustomerSql}`);
  process.stderr.write(plan.map((r) => r[r.length - 1]).join('\n') + '\n');
} else {
  await run(perCustomerSql);
}
since = mark('join_per_customer', since);
const totals = categories.length
  ? (await rows(`SELECT ${categories.map((_, i) => `sum(c${i})::VARCHAR`).join(', ')} FROM per_customer`))[0]
  : [];
const units = (decimal) => {
  const [whole, fraction = ''] = String(decimal ?? '0').split('.');
  const sign = whole.startsWith('-') ? -1n : 1n;
  return BigInt(whole.replace('-', '') || '0') * 10000n * sign + sign * BigInt((fraction + '0000').slice(0, 4));
};
const ranked = categories.map((name, i) => ({ name, i, total: units(totals[i]) }))
  .filter((c) => c.total > 0n)
  .sort((a, b) => (a.total > b.total ? -1 : a.total < b.total ? 1 : (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
const top = ranked.slice(0, spec.top_categories);
const asOfS = `epoch(${quoteString(spec.as_of)}::TIMESTAMPTZ)::BIGINT`;
// Shares divide integer units as doubles, like omniseg: round(x::DOUBLE * 10000) is x's units exactly
// while |units| < 2^52 (the double of x is within half an ulp of units / 10^4); much cheaper than
// (x * 10000)::HUGEINT.
const asDouble = (decimal) => `round(${decimal}::DOUBLE * 10000)`;
const share = (part) => `CASE WHEN gross > 0 THEN ${asDouble(part)} / ${asDouble('gross')} ELSE 0 END`;
const featureColumns = [
  `customer_id`,
  `(${asOfS} - last_s)::DOUBLE / 86400 AS recency_days`,
  `frequency`,
  `monetary`,
  `monetary::DOUBLE / frequency::DOUBLE AS avg_basket_value`, // DECIMAL -> DOUBLE is units / 10^4, as omniseg
  `date_diff('day', signup_date, ${quoteString(spec.as_of)}::DATE)::DOUBLE AS tenure_days`,
  ...channels.map((c, i) => `${share(`g${i}`)} AS ${quoteName(`share_${c}`)}`),
  ...top.map((c) => `${share(`c${c.i}`)} AS ${quoteName(`cat_${c.name}`)}`),
];
since = mark('join_top_categories', since);
await run(`CREATE TEMP TABLE features AS SELECT ${featureColumns.join(',\n  ')} FROM per_customer`);
since = mark('join_features', since);
const customers = Number((await rows('SELECT count(*) FROM features'))[0][0]);
timings.join_aggregate = (performance.now() - joinStart) / 1000;

// (c) write
if (args.out) {
  await timed('write', () => run(`COPY (SELECT * FROM features ORDER BY customer_id) TO ${quoteString(args.out)} (HEADER, DELIMITER ',')`));
}

connection.closeSync?.();
const status = readFileSync('/proc/self/status', 'utf8');
const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
console.log(JSON.stringify({
  tool: 'duckdb', duckdb_version: version, mode: args.mode, threads: args.threads,
  preserve_insertion_order: args.preserveOrder,
  init_s: initS, load_s: loadS, join_aggregate_s: timings.join_aggregate, write_s: timings.write || 0,
  seconds: (performance.now() - started) / 1000, phases: timings, customers,
  categories, top_categories: top.map((c) => c.name),
  peak_rss_bytes: hwm ? Number(hwm[1]) * 1024 : null,
}));
