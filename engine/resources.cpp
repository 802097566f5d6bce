#include "engine/resources.hpp"

#include <malloc.h>
#include <sys/resource.h>

namespace omniseg::engine {

std::uint64_t peak_resident_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports kibibytes
}

void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_MAX, 0);         // every block from the heap, so a freed one can be handed out again
  mallopt(M_TRIM_THRESHOLD, -1);  // and never give the heap's top back to the kernel
}

}  // namespace omniseg::engine
