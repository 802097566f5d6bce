// engine/wall_clock.hpp — the one monotonic clock behind phase timers, progress lines and the
// `seconds` every command reports.
#pragma once

#include <chrono>

namespace omniseg::engine {

/// Seconds on a monotonic clock (steady_clock): only differences mean anything.
[[nodiscard]] inline double wall_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace omniseg::engine
