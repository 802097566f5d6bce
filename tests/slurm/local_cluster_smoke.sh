#!/usr/bin/env bash
# Smoke test of slurm/local-cluster.sh, the real single-node Slurm the tests run jobs on: starts a
# cluster in a short private directory, runs `omniseg doctor` on 2 ranks with srun --mpi=pmix,
# checks the preemption mechanics the segmentation job relies on (scancel --signal=USR1 --batch
# reaches the batch script's trap, its exit code OMNISEG_REQUEUE_EXIT (default 75) makes Slurm
# requeue the job through RequeueExit, the second run sees SLURM_RESTART_COUNT=1, and
# --open-mode=append keeps both runs' output), stops the cluster and removes the directory.
#
# Usage: tests/slurm/local_cluster_smoke.sh BUILD_DIR     (BUILD_DIR holds the omniseg binary)
# Exit 0: passed; 1: failed (with the daemons' log tails); 77: skipped (no Slurm/munge, not root).
set -euo pipefail

readonly JOB_TIMEOUT_S=120      # for each job to finish
readonly TRAP_READY_TIMEOUT_S=60 # for the preemption job to start and install its trap

t_start=$EPOCHREALTIME
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "local_cluster_smoke: $*" >&2; }

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[[ -x "$1/omniseg" ]] || { say "FAIL: no executable $1/omniseg"; exit 1; }
omniseg=$(cd -- "$1" && pwd -P)/omniseg
repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
cluster=$repo/slurm/local-cluster.sh
requeue_exit=${OMNISEG_REQUEUE_EXIT:-75}

for tool in slurmctld slurmd munged mungekey sbatch srun scontrol scancel squeue; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "SKIP: $tool not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
    exit 77
  fi
done
if [[ $(id -u) -ne 0 ]]; then
  say "SKIP: the local cluster runs as root (SlurmUser=root)"
  exit 77
fi

# Nothing of an enclosing allocation may leak into ours.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC)_' || true)

work=$(mktemp -d /tmp/osl.XXXX)
jobs_dir=$work/jobs
mkdir -p "$jobs_dir"

cleanup() {
  local rc=$? t_stop=$EPOCHREALTIME
  "$cluster" stop "$work" || rc=1
  say "stop took $(elapsed "$t_stop") s"
  rm -rf -- "$work"
  if ((rc == 0)); then
    say "PASSED in $(elapsed "$t_start") s"
  else
    say "FAILED (exit $rc) after $(elapsed "$t_start") s"
  fi
  exit "$rc"
}
trap cleanup EXIT

fail() {
  say "FAIL: $*"
  local file
  for file in "$work"/log/*.log "$work"/munge/munged.log "$jobs_dir"/*.out; do
    [[ -s "$file" ]] || continue
    echo "local_cluster_smoke: ---- last lines of $file ----" >&2
    tail -n 30 -- "$file" >&2
  done
  exit 1
}

# job_field JOB FIELD: one field of `scontrol show job` (JobState, ExitCode, Restarts, ...).
job_field() {
  scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_job_done JOB: waits (bounded) until JOB is in a final state; prints the states it went
# through on stderr.
wait_job_done() {
  local job=$1 deadline=$((SECONDS + JOB_TIMEOUT_S)) state="" last=""
  while ((SECONDS < deadline)); do
    state=$(job_field "$job" JobState)
    if [[ "$state" != "$last" ]]; then
      say "  job $job: ${state:-?} (restarts $(job_field "$job" Restarts))"
      last=$state
    fi
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
        return 0 ;;
    esac
    sleep 0.2
  done
  fail "job $job is not done after ${JOB_TIMEOUT_S} s (state ${state:-unknown}; squeue: $(squeue -h 2>&1 | tr '\n' ';'))"
}

# --- start -------------------------------------------------------------------------------------
t=$EPOCHREALTIME
env_line=$("$cluster" start "$work") || fail "slurm/local-cluster.sh start $work failed"
[[ "$env_line" == "export SLURM_CONF=$work/slurm.conf" ]] || fail "start printed '$env_line'"
# shellcheck source=/dev/null
source "$work/env.sh"
[[ "$SLURM_CONF" == "$work/slurm.conf" ]] || fail "env.sh does not export SLURM_CONF"
say "cluster up in $(elapsed "$t") s"

# --- a 2-rank MPI job: omniseg doctor under srun --mpi=pmix ---------------------------------------
t=$EPOCHREALTIME
job=$(sbatch --parsable -J doctor -N1 -n2 -O -t 2 -o "$jobs_dir/doctor.out" \
  --wrap "srun --mpi=pmix $omniseg doctor") || fail "sbatch of the doctor job failed"
say "doctor job $job submitted"
wait_job_done "$job"
state=$(job_field "$job" JobState) exit_code=$(job_field "$job" ExitCode)
[[ "$state" == COMPLETED && "$exit_code" == 0:0 ]] ||
  fail "doctor job $job ended $state with exit code $exit_code"
out=$jobs_dir/doctor.out
# Both ranks in one MPI world: exactly one report (two singletons would each print one, with
# "ranks":1), from 2 ranks, whose checks (collectives, error agreement across ranks) all passed.
reports=$(grep -c '^{.*"command":"doctor"' "$out" || true)
[[ "$reports" == 1 ]] || fail "expected one doctor report in $out, found $reports"
grep -q '^{.*"ranks":2[,}]' "$out" || fail "the doctor report in $out is not from 2 ranks"
grep -q '^{.*"passed":true' "$out" || fail "the doctor report in $out did not pass"
grep -q 'on 2 ranks' "$out" || fail "$out lacks the 'on 2 ranks' line"
grep -q 'ranks 0,1' "$out" || fail "$out does not place ranks 0,1 on the node"
say "doctor job passed on 2 ranks in $(elapsed "$t") s"

# --- preemption: USR1 to the batch shell, exit $requeue_exit, requeued by RequeueExit -----------
t=$EPOCHREALTIME
script=$jobs_dir/preempt.sh
cat >"$script" <<EOF
#!/bin/bash
echo "run restart_count=\${SLURM_RESTART_COUNT:-unset} job=\$SLURM_JOB_ID"
case "\${SLURM_RESTART_COUNT:-0}" in
  0) ;;
  1) echo "second run: done"; exit 0 ;;
  *) echo "unexpected restart count \$SLURM_RESTART_COUNT"; exit 3 ;;
esac
trap 'echo "got USR1"; kill "\$sleeper" 2>/dev/null; exit $requeue_exit' USR1
sleep 60 &
sleeper=\$!
echo "waiting for USR1"
wait "\$sleeper"
echo "no USR1 within 60 s"
exit 1
EOF
chmod +x "$script"
out=$jobs_dir/preempt.out
job=$(sbatch --parsable -J preempt -N1 -n1 -t 3 --requeue --open-mode=append -o "$out" "$script") ||
  fail "sbatch of the preemption job failed"
say "preemption job $job submitted"
deadline=$((SECONDS + TRAP_READY_TIMEOUT_S))
until grep -q 'waiting for USR1' "$out" 2>/dev/null; do
  ((SECONDS < deadline)) ||
    fail "preemption job $job did not install its trap within ${TRAP_READY_TIMEOUT_S} s (state $(job_field "$job" JobState))"
  sleep 0.2
done
t_signal=$EPOCHREALTIME
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 --batch $job failed"
wait_job_done "$job"
state=$(job_field "$job" JobState) exit_code=$(job_field "$job" ExitCode) restarts=$(job_field "$job" Restarts)
[[ "$state" == COMPLETED && "$exit_code" == 0:0 && "$restarts" == 1 ]] ||
  fail "preemption job $job ended $state, exit code $exit_code, restarts $restarts (want COMPLETED, 0:0, 1)"
expected=("run restart_count=unset" "waiting for USR1" "got USR1" "run restart_count=1" "second run: done")
mapfile -t lines < <(grep -v '^$' "$out")
((${#lines[@]} == ${#expected[@]})) ||
  fail "$out has ${#lines[@]} lines, expected ${#expected[@]}: ${expected[*]}"
for i in "${!expected[@]}"; do
  [[ "${lines[i]}" == "${expected[i]}"* ]] ||
    fail "line $((i + 1)) of $out is '${lines[i]}', expected '${expected[i]}...'"
done
say "preemption job requeued by RequeueExit=$requeue_exit and completed on its second run \
$(elapsed "$t_signal") s after the signal ($(elapsed "$t") s in all)"
