#include "engine/resources.hpp"

#include <sys/resource.h>

namespace omniseg::engine {

std::uint64_t peak_resident_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports kibibytes
}

}  // namespace omniseg::engine
