#!/bin/bash
# One element of a slurm/scaling.sh sweep (run by Slurm, not by hand):
#   scaling_task.sh generate DIR   line SLURM_ARRAY_TASK_ID of DIR/sizes.tsv -> DIR/data/NAME/
#   scaling_task.sh doctor DIR     omniseg doctor on every rank of the allocation -> DIR/doctor.json
#   scaling_task.sh run DIR        line SLURM_ARRAY_TASK_ID of DIR/plan.tsv -> DIR/runs/KIND-rRANKS-NAME-REPEAT/
set -euo pipefail
mode=$1 out=$2
# shellcheck source=/dev/null
omniseg=$(sed -n 's/^omniseg=//p' "$out/sweep.conf")
line=$((${SLURM_ARRAY_TASK_ID:-0} + 1))

case "$mode" in
  generate)
    read -r name customers items orders < <(sed -n "${line}p" "$out/sizes.tsv")
    if [[ ! -f "$out/data/$name/job.toml" ]]; then
      srun --mpi=pmix "$omniseg" --log-level warn generate --out "$out/data/$name" --customers "$customers" \
        --items "$items" --orders "$orders" --seed 1 --dirty-rate 0.01 >"$out/logs/generate-$name.json"
    fi
    ;;
  doctor)
    srun --mpi=pmix "$omniseg" --log-level warn doctor >"$out/doctor.json"
    ;;
  run)
    read -r kind ranks name repeat < <(sed -n "${line}p" "$out/plan.tsv")
    run_dir=$out/runs/$kind-r$ranks-$name-$repeat
    rm -rf -- "$run_dir"
    srun --mpi=pmix -n "$ranks" "$omniseg" --log-level warn run --config "$out/data/$name/job.toml" \
      --output "$run_dir" >"$out/logs/run-$kind-r$ranks-$name-$repeat.json"
    ;;
  *)
    echo "scaling_task.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
