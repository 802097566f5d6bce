// io/hdf5_library.hpp — facts about the HDF5 library omniseg was built against.
//
// The HDF5 file layer (RAII handles, collective row-sharded datasets) grows here with the
// commands that write files; this header only reports what the library can do.
#pragma once

#include <string>

namespace omniseg::io {

struct Hdf5LibraryInfo {
  unsigned major = 0, minor = 0, release = 0;
  bool parallel = false;  ///< built with MPI-IO: collective reads and writes are possible
  [[nodiscard]] std::string description() const;  ///< "HDF5 1.10.8 (parallel)"
};

Hdf5LibraryInfo hdf5_library_info();

}  // namespace omniseg::io
