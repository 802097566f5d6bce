#!/bin/bash
# slurm/scaling.sh — strong- and weak-scaling sweeps of `omniseg run`, as Slurm jobs.
#
#   slurm/scaling.sh --out DIR [--ranks "1 2 4 8 16"] [--customers N] [--weak-customers N]
#                    [--repeats R] [--omniseg BIN] [--sbatch-args "ARGS"] [--wait]
#
# Submits, with dependencies between them:
#   1. data    a job array, one element per problem size: `omniseg generate` (seeded, so every
#              size is the same data whoever runs it);
#   2. doctor  `omniseg doctor` at the largest rank count: the allreduce latency and all-to-all
#              bandwidth the cost model uses (slurm/scaling_collect.py);
#   3. runs    a job array over (kind, ranks, repeat): `srun -n RANKS omniseg run`, one element at a
#              time (%1) so that runs do not compete for the node(s); strong scaling runs one size
#              (--customers) on every rank count, weak scaling --weak-customers per rank;
#   4. collect `slurm/scaling_collect.py DIR`: DIR/scaling.csv (every phase of every run),
#              DIR/scaling_medians.csv, PNG plots of speedup and parallel efficiency per phase
#              (gnuplot) and DIR/model.csv, the cost model's projection to 1,024 ranks.
# Every array element requests the largest rank count (a job array shares one resource request)
# and runs on the ranks its row of DIR/plan.tsv names. Logs: DIR/logs/. With --wait the script
# returns when the collector has finished (its exit code).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
out="" ranks="1 2" customers=200000 weak_customers=100000 repeats=3 omniseg=${OMNISEG:-omniseg}
sbatch_args="" wait_for_it=0
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --customers) customers=$2; shift 2 ;;
    --weak-customers) weak_customers=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --omniseg) omniseg=$2; shift 2 ;;
    --sbatch-args) sbatch_args=$2; shift 2 ;;
    --wait) wait_for_it=1; shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "scaling.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$out" ]] || { echo "scaling.sh: --out DIR is required" >&2; exit 2; }
command -v "$omniseg" >/dev/null 2>&1 || [[ -x "$omniseg" ]] || { echo "scaling.sh: no omniseg at '$omniseg'" >&2; exit 2; }
omniseg=$(command -v "$omniseg" || echo "$omniseg")
mkdir -p "$out/logs"
out=$(cd -- "$out" && pwd -P)

max_ranks=0
for r in $ranks; do ((r > max_ranks)) && max_ranks=$r; done

# sizes.tsv: name customers items orders; plan.tsv: kind ranks size repeat (one line per run).
: >"$out/sizes.tsv"
: >"$out/plan.tsv"
add_size() {  # customers -> prints the size's name, adding it once
  local name="c$1"
  grep -q "^$name	" "$out/sizes.tsv" || printf '%s\t%s\t%s\t%s\n' "$name" "$1" 5000 $(($1 * 10)) >>"$out/sizes.tsv"
  echo "$name"
}
for r in $ranks; do
  strong=$(add_size "$customers")
  weak=$(add_size $((weak_customers * r)))
  for ((i = 0; i < repeats; i++)); do
    printf 'strong\t%s\t%s\t%s\n' "$r" "$strong" "$i" >>"$out/plan.tsv"
    printf 'weak\t%s\t%s\t%s\n' "$r" "$weak" "$i" >>"$out/plan.tsv"
  done
done
sizes=$(wc -l <"$out/sizes.tsv")
runs=$(wc -l <"$out/plan.tsv")
printf 'omniseg=%s\nranks=%s\ncustomers=%s\nweak_customers=%s\nrepeats=%s\n' \
  "$omniseg" "$ranks" "$customers" "$weak_customers" "$repeats" >"$out/sweep.conf"

# shellcheck disable=SC2086  # sbatch_args is a list of options
submit() { sbatch --parsable $sbatch_args -o "$out/logs/%x-%A_%a.out" "$@"; }
task=$here/scaling_task.sh
data_job=$(submit -J omniseg-scaling-data --array=0-$((sizes - 1)) -n "$max_ranks" -O "$task" generate "$out")
doctor_job=$(submit -J omniseg-scaling-doctor --dependency=afterok:"$data_job" -n "$max_ranks" -O "$task" doctor "$out")
run_job=$(submit -J omniseg-scaling-run --dependency=afterok:"$data_job" --array=0-$((runs - 1))%1 \
  -n "$max_ranks" -O "$task" run "$out")
collect=(-J omniseg-scaling-collect --dependency=afterany:"$run_job":"$doctor_job" -n 1
  --wrap "/usr/bin/python3 $here/scaling_collect.py $out")
echo "scaling.sh: data job $data_job ($sizes sizes), doctor job $doctor_job, run array $run_job ($runs runs), results in $out"
if ((wait_for_it)); then
  submit --wait "${collect[@]}" >/dev/null
else
  echo "scaling.sh: collector job $(submit "${collect[@]}")"
fi
