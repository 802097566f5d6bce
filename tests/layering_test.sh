#!/usr/bin/env bash
# Only engine/ speaks MPI: no MPI_ identifiers or <mpi.h> in algorithms/, io/, jobs/. The single
# allowed exception is the HDF5 MPI-IO file-access property in io/, which includes
# engine/mpi_handle.hpp; it is listed here by file.
set -euo pipefail
cd "$1"
allowed='^io/hdf5_file\.cpp:'
violations=$(grep -rnE '\bMPI_[A-Za-z_]+|#include *<mpi\.h>|engine/mpi_handle\.hpp' algorithms io jobs \
               --include='*.cpp' --include='*.hpp' | grep -vE "$allowed" || true)
if [[ -n "$violations" ]]; then
  echo "raw MPI outside engine/ (use omniseg::engine::Communicator):" >&2
  echo "$violations" >&2
  exit 1
fi
# Reading SLURM_* variables belongs to jobs/ and slurm/ only.
violations=$(grep -rn 'SLURM_' engine algorithms io --include='*.cpp' --include='*.hpp' || true)
if [[ -n "$violations" ]]; then
  echo "SLURM_ variables read outside jobs/ and slurm/:" >&2
  echo "$violations" >&2
  exit 1
fi
echo "layering ok"
