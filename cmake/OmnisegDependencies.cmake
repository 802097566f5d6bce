# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).

# MPI: the C++ compiler wrapper's flags, without the deprecated MPI C++ bindings.
set(MPI_CXX_SKIP_MPICXX ON)
find_package(MPI 3.1 REQUIRED COMPONENTS CXX)

# HDF5 must be the parallel (MPI-IO) build: if the serial libhdf5-dev is also installed, a plain
# find_package picks it silently and collective writes cannot work.
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 1.10 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "omniseg needs the parallel HDF5 build (Debian: libhdf5-openmpi-dev), but CMake found a serial "
    "HDF5 at '${HDF5_INCLUDE_DIRS}'. Install libhdf5-openmpi-dev and delete this build folder, "
    "which remembers the serial choice.")
endif()

find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(Boost 1.74 REQUIRED COMPONENTS serialization)
find_package(spdlog 1.10 REQUIRED)
find_package(CLI11 2.1 REQUIRED)
find_package(tomlplusplus 3.3 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)

# Random123 ships headers only, without a CMake or pkg-config file.
find_path(RANDOM123_INCLUDE_DIR NAMES Random123/philox.h REQUIRED)
if(NOT TARGET Random123::Random123)
  add_library(Random123::Random123 INTERFACE IMPORTED)
  set_target_properties(Random123::Random123 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${RANDOM123_INCLUDE_DIR}")
endif()

# BLAS and LAPACK from OpenBLAS (Debian: libopenblas-dev): the K-means distance GEMM and the blocked
# Householder QR of TSQR. OpenBLAS picks its kernels for the CPU at run time, so one build runs at
# full speed on any x86-64 node. omniseg runs one BLAS thread per rank (algorithms/linalg/blas.hpp).
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_package(LAPACK REQUIRED)
