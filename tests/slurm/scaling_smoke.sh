#!/usr/bin/env bash
# slurm/scaling.sh end to end on the local Slurm, tiny sizes: the data array, the doctor job, the run
# array (strong and weak at 1 and 2 ranks) and the collector run; the CSVs hold every run's stages,
# the medians' speedups follow from the medians, the model projects to 1,024 ranks, and the four
# plots are PNG files.
#
# Usage: tests/slurm/scaling_smoke.sh BUILD_DIR     Exit 0 passed, 1 failed, 77 skipped.
set -euo pipefail
say() { echo "scaling_smoke: $*" >&2; }
omniseg=$(cd -- "$1" && pwd -P)/omniseg
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
for tool in slurmctld slurmd munged sbatch gnuplot; do
  command -v "$tool" >/dev/null 2>&1 || { say "SKIP: $tool not installed"; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { say "SKIP: the local cluster runs as root"; exit 77; }
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_' || true)

work=$(mktemp -d /tmp/oss.XXXX)
chmod 755 "$work"  # munged wants every directory above its socket searchable
cleanup() {
  local rc=$?
  "$repo/slurm/local-cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true
  if ((rc == 0)); then rm -rf -- "$work"; say PASSED; else say "FAILED; files kept in $work"; fi
  exit "$rc"
}
trap cleanup EXIT
fail() {
  say "FAIL: $*"
  tail -n 20 "$work"/sweep/logs/* 2>/dev/null >&2 || true
  exit 1
}

mkdir -p "$work/cluster"
"$repo/slurm/local-cluster.sh" start "$work/cluster" >/dev/null || fail "local-cluster.sh start failed"
# shellcheck source=/dev/null
source "$work/cluster/env.sh"
timeout 300 "$repo/slurm/scaling.sh" --out "$work/sweep" --omniseg "$omniseg" --ranks "1 2" --customers 3000 \
  --weak-customers 1500 --repeats 2 --wait || fail "scaling.sh --wait failed"

sweep=$work/sweep
/usr/bin/python3 - "$sweep" <<'EOF' || fail "the sweep's outputs are wrong"
import csv, statistics, sys
sweep = sys.argv[1]
rows = list(csv.DictReader(open(f"{sweep}/scaling.csv")))
stages = {"ingest", "joins", "features", "pca", "kmeans", "itemsets", "rules", "output", "total"}
runs = {(r["kind"], r["ranks"], r["repeat"]) for r in rows}
assert len(runs) == 8, f"expected 8 runs (strong/weak x 1,2 ranks x 2 repeats), got {sorted(runs)}"
assert {r["stage"] for r in rows} == stages, {r["stage"] for r in rows}
weak_sizes = {r["ranks"]: r["customers"] for r in rows if r["kind"] == "weak"}
assert weak_sizes == {"1": "1500", "2": "3000"}, weak_sizes
medians = {(r["kind"], r["ranks"], r["stage"]): r for r in csv.DictReader(open(f"{sweep}/scaling_medians.csv"))}
for (kind, ranks, stage), row in medians.items():
    values = [float(r["seconds"]) for r in rows if (r["kind"], r["ranks"], r["stage"]) == (kind, ranks, stage)]
    assert abs(float(row["seconds"]) - statistics.median(values)) < 1e-6, (kind, ranks, stage)
    t1 = float(medians[(kind, "1", stage)]["seconds"])
    if kind == "strong" and float(row["seconds"]) >= 1e-3:  # the CSV rounds seconds to 1e-6
        expected = t1 / float(row["seconds"])
        assert abs(float(row["speedup"]) - expected) <= 0.01 * expected, (kind, ranks, stage, row["speedup"], expected)
model = list(csv.DictReader(open(f"{sweep}/model.csv")))
assert {int(r["ranks"]) for r in model} == {2 ** i for i in range(11)}
assert {r["scenario"] for r in model} == {"measured", "cluster"}
assert all(float(r["seconds"]) >= 0 for r in model)
for name in ("strong_speedup", "strong_efficiency", "weak_efficiency", "model_strong"):
    assert open(f"{sweep}/{name}.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n", name
print("scaling_smoke: outputs check out", file=sys.stderr)
EOF
