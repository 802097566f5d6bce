#!/usr/bin/env bash
# `make demo`: what omniseg can do so far, on 2 ranks. Today: `omniseg doctor` (MPI, HDF5,
# collectives, deterministic random numbers, error handling, latency and bandwidth). The
# segmentation job replaces it here once it exists.
set -euo pipefail
omniseg=${1:-build/omniseg}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "== mpiexec -n 2 $omniseg doctor"
mpiexec -n 2 --oversubscribe --bind-to none "$omniseg" doctor
