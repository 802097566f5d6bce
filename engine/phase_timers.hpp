// engine/phase_timers.hpp — wall time per named phase, reduced across ranks.
//
// Owns: timing scopes and the cross-rank summary (min/avg/max seconds, rank of the max), as a
// table for logs and as JSON for summaries. Phases start together (a barrier at entry), so a
// phase's max is the time the job spent in it, and max - min shows imbalance.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/communicator.hpp"

namespace omniseg::engine {

struct PhaseStats {
  std::string name;
  std::uint64_t entries = 0;  ///< how many times the phase ran (same on every rank)
  double min_s = 0, avg_s = 0, max_s = 0;
  int max_rank = 0;  ///< the slowest rank (lowest on ties)
};

class PhaseTimers {
 public:
  explicit PhaseTimers(const Communicator& comm) : comm_(&comm) {}

  /// Ends the phase when it goes out of scope.
  class Scope {
   public:
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope();

   private:
    friend class PhaseTimers;
    Scope(PhaseTimers& timers, std::size_t index);
    PhaseTimers& timers_;
    std::size_t index_;
    double start_s_;
  };

  /// Collective (a barrier): starts timing `name`; time adds up over repeated entries.
  [[nodiscard]] Scope phase(const std::string& name);

  /// Collective: per-phase statistics over all ranks, in order of first entry. Every rank must
  /// have entered the same phases in the same order; otherwise every rank throws the same error.
  [[nodiscard]] std::vector<PhaseStats> reduce() const;

 private:
  const Communicator* comm_;
  std::vector<std::string> names_;
  std::vector<double> seconds_;
  std::vector<std::uint64_t> entries_;
};

/// [{"phase": ..., "entries": ..., "min_s": ..., "avg_s": ..., "max_s": ..., "max_rank": ...}, ...]
nlohmann::json to_json(std::span<const PhaseStats> phases);
/// A fixed-width table, one line per phase, for the log.
std::string format_table(std::span<const PhaseStats> phases);

}  // namespace omniseg::engine
