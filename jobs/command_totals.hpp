// jobs/command_totals.hpp — what every command's summary line ends with: per-phase times across
// ranks, the command's wall time and the peak memory of its largest rank.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"
#include "engine/resources.hpp"
#include "engine/wall_clock.hpp"

namespace omniseg::jobs {

struct CommandTotals {
  std::vector<engine::PhaseStats> phases;  ///< min/avg/max per phase across ranks
  double seconds = 0;                      ///< since `start_seconds`, on the slowest rank
  std::uint64_t peak_rss_bytes_max_rank = 0;
};

/// Collective. `start_seconds`: engine::wall_seconds() when the command began.
[[nodiscard]] inline CommandTotals command_totals(const engine::Communicator& comm, const engine::PhaseTimers& timers,
                                                  double start_seconds) {
  CommandTotals totals;
  totals.phases = timers.reduce();
  totals.seconds = comm.allreduce(engine::wall_seconds() - start_seconds, engine::ReduceOp::max);
  totals.peak_rss_bytes_max_rank = comm.allreduce(engine::peak_resident_bytes(), engine::ReduceOp::max);
  return totals;
}

}  // namespace omniseg::jobs
