// engine/resources.hpp — what this process has used: peak resident memory.
#pragma once

#include <cstdint>

namespace omniseg::engine {

/// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
std::uint64_t peak_resident_bytes();

}  // namespace omniseg::engine
