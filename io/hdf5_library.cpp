#include "io/hdf5_library.hpp"

#include <hdf5.h>

namespace omniseg::io {

std::string Hdf5LibraryInfo::description() const {
  return "HDF5 " + std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release) +
         (parallel ? " (parallel)" : " (serial)");
}

Hdf5LibraryInfo hdf5_library_info() {
  Hdf5LibraryInfo info;
  H5get_libversion(&info.major, &info.minor, &info.release);
#ifdef H5_HAVE_PARALLEL
  info.parallel = true;
#endif
  return info;
}

}  // namespace omniseg::io
