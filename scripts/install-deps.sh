#!/usr/bin/env bash
# Installs the Debian 12 packages omniseg needs to build, test and run, and only those missing.
# Idempotent and silent when everything is already there. Needs root (or sudo) only to install.
set -euo pipefail

packages=(
  # toolchain
  g++ make cmake ninja-build git pkg-config
  # MPI and parallel HDF5 (never the serial libhdf5-dev: CMake would pick it)
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  # libraries
  libeigen3-dev libboost-serialization-dev libspdlog-dev libgtest-dev libcli11-dev
  libtomlplusplus-dev nlohmann-json3-dev librandom123-dev
  # BLAS and LAPACK (GEMM for K-means, blocked QR for TSQR PCA)
  libopenblas-dev
  # tests: Debian's python3 with h5py reads outputs and checks them against ground truth
  python3 python3-h5py python3-numpy
  # tests and benchmarks: K-means and PCA agree with scikit-learn, the tool users would otherwise run
  python3-sklearn
  # tests: a real single-node Slurm on localhost (slurm/local-cluster.sh)
  slurm-wlm munge
  # scaling sweeps: the plots of slurm/scaling_collect.py
  gnuplot-nox
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps: missing packages and not root; run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet; refresh them once before installing.
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
