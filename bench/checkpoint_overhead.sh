#!/usr/bin/env bash
# Checkpoint overhead of `omniseg run`: the same job without checkpoints, with checkpoints (large
# datasets around the page cache, the default) and with checkpoints through the page cache
# (`bypass_page_cache = false`), alternated RUNS times so that drift hits all three alike; prints
# each run and the medians (seconds from the JSON line; `checkpoint write` = slowest rank's total
# from summary.json), and the machine's write floors (dd of 100 MB: direct, buffered in 1 MiB
# writes, buffered in one write).
#
#   bench/checkpoint_overhead.sh DATA_DIR [RUNS] [RANKS]
#
# DATA_DIR: from `omniseg generate` (its job.toml is used; a copy with the page cache switch is
# written beside it). The figures in docs/benchmarks.md come from
#   omniseg generate --out DATA --customers 1000000 --items 5000 --orders 10000000 --seed 1 --dirty-rate 0.01
#   bench/checkpoint_overhead.sh DATA 9 2
set -euo pipefail
data=${1:?usage: bench/checkpoint_overhead.sh DATA_DIR [RUNS] [RANKS]}
runs=${2:-7}
ranks=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
omniseg=${OMNISEG:-$here/build/omniseg}
work=$(mktemp -d /tmp/omniseg-checkpoint-overhead-XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
{ cat "$data/job.toml"; printf '\n[checkpoint]\nbypass_page_cache = false\n'; } > "$data/job-page-cache.toml"

run() {  # config, extra args...: prints the run's seconds
  local config=$1; shift
  rm -rf "$work/out" "$work/cp"
  mpiexec -n "$ranks" --oversubscribe --bind-to none "$omniseg" --log-level warn run --config "$config" \
    --output "$work/out" "$@" 2>/dev/null |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["seconds"])'
}
write_seconds() {
  python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))
print(round(sum(p["max_s"] for p in s["phases"] if p["phase"] == "checkpoint write"), 3))' "$work/out/summary.json"
}

echo "plain_s bypass_s bypass_write_s page_cache_s page_cache_write_s"
for _ in $(seq "$runs"); do
  plain=$(run "$data/job.toml")
  bypass=$(run "$data/job.toml" --checkpoint-dir "$work/cp"); bypass_write=$(write_seconds)
  cached=$(run "$data/job-page-cache.toml" --checkpoint-dir "$work/cp"); cached_write=$(write_seconds)
  echo "$plain $bypass $bypass_write $cached $cached_write"
done | tee "$work/runs.txt"
python3 - "$work/runs.txt" <<'EOF'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
plain, bypass, bypass_write, cached, cached_write = (statistics.median(r[i] for r in rows) for i in range(5))
print(f"medians of {len(rows)}: without {plain:.3f} s | bypassing the page cache {bypass:.3f} s "
      f"({100 * (bypass - plain) / plain:+.1f} %, write {bypass_write:.3f} s) | through it {cached:.3f} s "
      f"({100 * (cached - plain) / plain:+.1f} %, write {cached_write:.3f} s)")
EOF
du -sb "$work/cp" | awk '{printf "checkpoint bytes: %d\n", $1}'

echo "write floors, 100 MB into a fresh file in $work after 10 s idle (dd):"
floor() {  # label, dd flags...
  local label=$1; shift
  rm -f "$work/floor"; sleep 10
  dd if=/dev/zero of="$work/floor" "$@" 2>&1 | tail -1 | sed "s/^/  $label: /"
}
floor "direct, 1 MiB writes" bs=1M count=100 oflag=direct
floor "page cache, 1 MiB writes" bs=1M count=100
floor "page cache, one 100 MB write (as MPI-IO writes a rank's part)" bs=100M count=1
