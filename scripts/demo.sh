#!/usr/bin/env bash
# `make demo`: what omniseg does, on 2 ranks: `omniseg doctor` (MPI, HDF5, collectives,
# deterministic random numbers, error handling, latency and bandwidth); the segmentation job
# (`omniseg run`) on a retailer's channel exports generated on the fly (the embedded default):
# one customer view with every input row accounted for, segments with a profile each, and the
# baskets' association rules; and frequent itemsets of a real basket data set when the shared data
# sets are beside the checkout.
set -euo pipefail
omniseg=${1:-build/omniseg}
here=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpiexec=(mpiexec -n 2 --oversubscribe --bind-to none)

echo "== ${mpiexec[*]} $omniseg doctor"
"${mpiexec[@]}" "$omniseg" doctor

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo
echo "== ${mpiexec[*]} $omniseg generate --out $out/data   (the embedded default: 20,000 customers, 300,000 order lines, 1% dirty rows)"
"${mpiexec[@]}" "$omniseg" --log-level warn generate --out "$out/data" > "$out/generate.json"
echo "== ${mpiexec[*]} $omniseg run --config $out/data/job.toml --output $out/run   (the segmentation job)"
"${mpiexec[@]}" "$omniseg" --log-level warn run --config "$out/data/job.toml" --output "$out/run" > /dev/null
/usr/bin/python3 - "$out/run" <<'PY'
import json, sys
summary = json.load(open(f"{sys.argv[1]}/summary.json"))
accounting = summary["accounting"]
print(f"{'input file':18s} {'read':>8s} {'joined':>8s} {'anonymous':>9s} {'rejected':>8s}  top reasons")
for name, file in accounting.items():
    if not isinstance(file, dict):
        continue
    rejected = file["rejected"]
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(rejected.items(), key=lambda kv: -kv[1])[:3])
    print(f"{name:18s} {file['read']:8d} {file['joined']:8d} {file['anonymous']:9d} {sum(rejected.values()):8d}  {reasons}")
balanced = all(f["read"] == f["joined"] + f["anonymous"] + sum(f["rejected"].values())
               for f in accounting.values() if isinstance(f, dict))
print(("every row accounted for (read = joined + anonymous + rejected)" if balanced else "ACCOUNTING DOES NOT ADD UP") +
      f"; identity keys mapped to two customers: {accounting['identity_conflicts']} (lowest customer_id kept)")
PY

baskets=""
for folder in "$here/../shared/datasets" /work/shared/datasets; do
  [[ -f "$folder/groceries/groceries.dat" ]] && baskets="$folder/groceries/groceries.dat" && break
done
if [[ -z "$baskets" ]]; then
  echo "(the shared data sets are not beside the checkout: skipping the itemset demo)"
  exit 0
fi
echo
echo "== ${mpiexec[*]} $omniseg fim --input groceries.dat --min-support 50 --output $out/groceries --text"
"${mpiexec[@]}" "$omniseg" --log-level warn fim --input "$baskets" --min-support 50 --output "$out/groceries" --text \
  > "$out/summary.json"
/usr/bin/python3 - "$out/summary.json" "$out/groceries.txt" "${baskets%.dat}_items.tsv" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
names = {}
try:
    for line in open(sys.argv[3]):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = parts[1]
except OSError:
    pass
print(f"{summary['transactions']} baskets, {summary['itemsets']} itemsets with support >= {summary['min_support']} "
      f"(by size: {summary['by_size']}) in {summary['seconds']:.2f} s on {summary['ranks']} ranks")
sets = []
for line in open(sys.argv[2]):
    items, support = line.rstrip("\n").split(" #SUP: ")
    sets.append((int(support), [int(i) for i in items.split()]))
print("largest itemsets bought together most often:")
for support, items in sorted((s for s in sets if len(s[1]) >= 2), key=lambda s: (-len(s[1]), -s[0]))[:5]:
    print(f"  {support:5d} baskets: " + " + ".join(names.get(i, str(i)) for i in items))
PY
