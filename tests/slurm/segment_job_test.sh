#!/usr/bin/env bash
# slurm/segment.sbatch on a real single-node Slurm (slurm/local-cluster.sh): the segmentation job on
# generated demo data is preempted in the middle of K-means with `scancel --signal=USR1 --batch`,
# checkpoints, exits 75, requeues itself (scontrol requeue: the cluster's RequeueExit is set to
# another code), resumes from the checkpoints on its second run, and ends with every dataset of
# segmentation.h5 and every CSV output equal, bit for bit, to an uninterrupted run's (mpiexec, same
# rank count). A job that fails plainly (a bad configuration, exit 3) ends FAILED, not requeued.
#
# Usage: tests/slurm/segment_job_test.sh BUILD_DIR MPIEXEC...   (MPIEXEC: the launcher without -n)
# Exit 0: passed; 1: failed (with the job's log); 77: skipped (no Slurm/munge, not root).
set -euo pipefail

readonly JOB_TIMEOUT_S=240
readonly SLOW_ITERATION_MS=300  # stretches K-means so the signal lands in the middle of it

say() { echo "segment_job_test: $*" >&2; }
(($# >= 2)) || { echo "usage: $0 BUILD_DIR MPIEXEC..." >&2; exit 2; }
omniseg=$(cd -- "$1" && pwd -P)/omniseg
shift
mpiexec=("$@")
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cluster=$repo/slurm/local-cluster.sh

for tool in slurmctld slurmd munged sbatch scontrol scancel; do
  command -v "$tool" >/dev/null 2>&1 || { say "SKIP: $tool not installed"; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { say "SKIP: the local cluster runs as root"; exit 77; }
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_' || true)

work=$(mktemp -d /tmp/osj.XXXX)
chmod 755 "$work"  # munged insists that every directory above its socket is searchable
cleanup() {
  local rc=$?
  "$cluster" stop "$work/cluster" >/dev/null 2>&1 || true
  ((rc == 0)) && rm -rf -- "$work"
  ((rc == 0)) && say "PASSED" || say "FAILED (exit $rc); files kept in $work"
  exit "$rc"
}
trap cleanup EXIT
fail() {
  say "FAIL: $*"
  [[ -s "$work/job.out" ]] && { echo "---- $work/job.out ----" >&2; tail -n 40 "$work/job.out" >&2; }
  exit 1
}
job_field() { scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# Data and the uninterrupted reference.
"${mpiexec[@]}" -n 2 "$omniseg" --log-level warn generate --out "$work/data" --customers 3000 --items 300 \
  --orders 60000 --seed 5 --dirty-rate 0.01 >/dev/null || fail "generate failed"
"${mpiexec[@]}" -n 2 "$omniseg" --log-level warn run --config "$work/data/job.toml" --output "$work/reference" \
  >/dev/null 2>"$work/reference.log" || fail "the uninterrupted run failed: $(tail -5 "$work/reference.log")"

mkdir -p "$work/cluster"
# RequeueExit set to a code omniseg never uses: the requeue must come from segment.sbatch itself
# (scontrol requeue), as on a site whose slurm.conf has no RequeueExit.
OMNISEG_REQUEUE_EXIT=99 "$cluster" start "$work/cluster" >/dev/null || fail "slurm/local-cluster.sh start failed"
# shellcheck source=/dev/null
source "$work/cluster/env.sh"

# The job; sbatch exports this environment (OMNISEG and the slow-iteration switch) to it.
export OMNISEG=$omniseg OMNISEG_TEST_KMEANS_ITERATION_SLEEP_MS=$SLOW_ITERATION_MS
job=$(sbatch --parsable -N1 -n2 -t 5 -o "$work/job.out" "$repo/slurm/segment.sbatch" \
  "$work/data/job.toml" "$work/out") || fail "sbatch failed"
say "job $job submitted"
deadline=$((SECONDS + JOB_TIMEOUT_S))
until grep -q 'kmeans: k [0-9]* run 1 iteration 3:' "$work/job.out" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "K-means did not reach iteration 3 (state $(job_field "$job" JobState))"
  grep -q 'omniseg run:' "$work/job.out" 2>/dev/null && fail "the job finished before it could be preempted"
  sleep 0.1
done
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 --batch failed"
say "USR1 sent in the middle of K-means"

state=""
while ((SECONDS < deadline)); do
  state=$(job_field "$job" JobState)
  [[ "$state" == COMPLETED || "$state" == FAILED || "$state" == CANCELLED || "$state" == TIMEOUT ]] && break
  sleep 0.3
done
restarts=$(job_field "$job" Restarts)
[[ "$state" == COMPLETED && "$restarts" == 1 ]] || fail "job $job ended ${state:-unknown} after $restarts restarts (want COMPLETED after 1)"
grep -q 'stopped by SIGUSR1 after K-means iteration' "$work/job.out" || fail "the first run did not stop in K-means"
grep -q 'requeueing job' "$work/job.out" || fail "the script did not requeue on exit code 75"
grep -q 'resumed kmeans progress' "$work/job.out" || fail "the second run did not resume K-means from its progress checkpoint"
say "preempted, requeued, resumed: job $job COMPLETED after 1 restart"

# A plain failure (a bad configuration: exit code 3) is not requeued.
sed 's/^k = .*/k = 0/' "$work/data/job.toml" >"$work/data/bad.toml"
grep -q '^k = 0$' "$work/data/bad.toml" || fail "could not write a bad configuration"
bad=$(sbatch --parsable -N1 -n2 -t 2 -o "$work/bad.out" "$repo/slurm/segment.sbatch" "$work/data/bad.toml" "$work/bad-out") ||
  fail "sbatch of the failing job failed"
bad_deadline=$((SECONDS + 60))
while ((SECONDS < bad_deadline)); do
  state=$(job_field "$bad" JobState)
  [[ "$state" == COMPLETED || "$state" == FAILED || "$state" == CANCELLED ]] && break
  sleep 0.3
done
[[ "$(job_field "$bad" JobState)" == FAILED && "$(job_field "$bad" Restarts)" == 0 && "$(job_field "$bad" ExitCode)" == 3:0 ]] ||
  fail "the failing job ended $(job_field "$bad" JobState), exit $(job_field "$bad" ExitCode), restarts $(job_field "$bad" Restarts) (want FAILED, 3:0, 0)"
grep -q "kmeans.k" "$work/bad.out" || fail "the failing job's log does not name the bad key"
say "a failing job (exit 3) ended FAILED without a requeue"

/usr/bin/python3 - "$work/reference" "$work/out" <<'EOF' || fail "the resumed job's results differ from the uninterrupted run's"
import sys, h5py
def results(out):
    found = {}
    with h5py.File(f"{out}/segmentation.h5") as h5:
        h5.visititems(lambda name, item: found.__setitem__(name, item[()].tobytes())
                      if isinstance(item, h5py.Dataset) else None)
    for name in ("segments.csv", "segment_profiles.csv", "rules.csv", "rejects.csv"):
        found[name] = open(f"{out}/{name}", "rb").read()
    return found
reference, resumed = results(sys.argv[1]), results(sys.argv[2])
differing = sorted(name for name in set(reference) | set(resumed) if reference.get(name) != resumed.get(name))
print(f"segment_job_test: {len(reference)} datasets and files compared, differing: {differing}", file=sys.stderr)
sys.exit(1 if differing else 0)
EOF
