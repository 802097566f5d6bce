// engine/shuffle.hpp — bounded-memory all-to-all shuffles of rows (records plus an optional string).
//
// Owns: moving rows to the ranks a caller names, in as many all-to-all rounds as keep each rank's
// send buffer within a byte budget; the receive order (by source rank, then the sender's order);
// strings travelling as lengths + bytes. Does not own: where rows should go (engine/hash_partition.hpp,
// engine/hash_join.hpp) or what they mean.
//
// How a shuffle runs: every rank groups its row ids by destination (a counting sort, a "send plan"),
// cuts the plan into rounds whose bytes fit the budget (each round takes a share of every
// destination, so all destinations progress together), and the ranks agree on the round count
// (the maximum). Sizes per source are exchanged first, so the receiver sizes its output once and
// writes every round's blocks straight to their final place. A single round receives directly into
// the output.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/string_column.hpp"

namespace omniseg::engine {

struct ShuffleBudget {
  /// Bytes of send buffer a rank may hold at once during a shuffle; 0 = default_shuffle_budget().
  std::uint64_t bytes_per_rank = 0;
};

/// What one shuffle (or the shuffles of one join) moved, as seen by this rank.
struct ShuffleStats {
  std::uint64_t rounds = 0;          ///< all-to-all rounds (the same on every rank)
  std::uint64_t rows_sent = 0;       ///< rows this rank sent (to itself included)
  std::uint64_t rows_received = 0;
  std::uint64_t bytes_sent = 0;      ///< records + string lengths + string bytes
  std::uint64_t bytes_received = 0;

  ShuffleStats& operator+=(const ShuffleStats& other) {
    rounds += other.rounds;
    rows_sent += other.rows_sent;
    rows_received += other.rows_received;
    bytes_sent += other.bytes_sent;
    bytes_received += other.bytes_received;
    return *this;
  }
};

/// Collective. The default send budget: 1/8 of this node's physical memory divided by the number of
/// ranks on this node (found with an MPI shared-memory split), at least 1 MiB.
std::uint64_t default_shuffle_budget(const Communicator& comm);

/// Collective when `budget.bytes_per_rank` is 0 (then it is default_shuffle_budget(comm)).
std::uint64_t resolve_shuffle_budget(const Communicator& comm, const ShuffleBudget& budget);

/// Records (trivially copyable) with an optional string per record (strings.empty() = none).
template <Transportable Record>
struct Rows {
  std::vector<Record> records{};
  StringColumn strings{};  ///< empty, or exactly one per record
};

namespace detail {

/// Row ids grouped by destination rank: the rows for rank 0, then for rank 1, ... A row may be
/// listed for several ranks (the join replicates the build rows of heavy keys).
struct SendPlan {
  std::vector<std::uint64_t> order;
  std::vector<std::uint64_t> counts;  ///< per destination rank
  bool valid = true;                  ///< false: a destination was outside [0, P)
};

/// Destinations besides a rank: a row for every rank, and a row that stays out of the exchange.
inline constexpr int send_everywhere = -1;
inline constexpr int send_nowhere = -2;

/// Groups rows 0 .. rows-1 by `destination_of(row)`: a rank in [0, ranks), send_everywhere or
/// send_nowhere (anything else makes the plan invalid). Stable (ascending row ids within a destination), two linear passes.
template <class DestinationOf>
SendPlan plan_by_destination(std::uint64_t rows, int ranks, DestinationOf destination_of) {
  SendPlan plan;
  const auto ranks_u = static_cast<std::size_t>(ranks);
  plan.counts.assign(ranks_u, 0);
  std::uint64_t everywhere = 0;
  for (std::uint64_t row = 0; row < rows; ++row) {
    const int destination = destination_of(row);
    if (destination >= 0 && destination < ranks) {
      ++plan.counts[static_cast<std::size_t>(destination)];
    } else if (destination == send_everywhere) {
      ++everywhere;
    } else if (destination != send_nowhere) {
      plan.valid = false;
    }
  }
  if (!plan.valid) {
    plan.counts.assign(ranks_u, 0);
    return plan;
  }
  std::vector<std::uint64_t> next(ranks_u, 0);
  std::uint64_t total = 0;
  for (std::size_t r = 0; r < ranks_u; ++r) {
    plan.counts[r] += everywhere;
    next[r] = total;
    total += plan.counts[r];
  }
  plan.order.resize(total);
  for (std::uint64_t row = 0; row < rows; ++row) {
    const int destination = destination_of(row);
    if (destination >= 0) {
      plan.order[next[static_cast<std::size_t>(destination)]++] = row;
    } else if (destination == send_everywhere) {
      for (std::size_t r = 0; r < ranks_u; ++r) plan.order[next[r]++] = row;
    }
  }
  return plan;
}

/// The agreed shape of one exchange.
struct ShuffleSchedule {
  std::uint64_t rounds = 0;                   ///< the same on every rank
  std::vector<std::uint64_t> round_rows;      ///< rounds x P: rows this rank sends to rank d in round r
  std::uint64_t largest_round_bytes = 0;      ///< this rank's send buffer
  std::uint64_t rows_in = 0;                  ///< rows this rank receives (its own included)
  std::uint64_t bytes_in = 0;                 ///< string bytes this rank receives
  std::vector<std::uint64_t> incoming_rows;   ///< per source rank
  std::vector<std::uint64_t> incoming_bytes;  ///< string bytes per source rank
  bool has_strings = false;                   ///< some rank sends strings
  ShuffleStats stats;
};

/// Most bytes one round sends from a rank, whatever the budget: a send buffer this size is reused
/// round after round (its pages stay mapped), and every message stays far below 2^31 bytes.
inline constexpr std::uint64_t kMaxRoundBytes = std::uint64_t{64} << 20;

/// Collective. Cuts `plan` into rounds of at most min(budget, kMaxRoundBytes) bytes to other ranks
/// (a row costs `fixed_row_bytes` plus, with strings, 8 + its length; a row larger than that goes
/// alone; rows for this rank itself are copied directly and cost no buffer), agrees the round count
/// and whether strings travel, and learns the incoming sizes. Throws std::invalid_argument on every
/// rank when any rank passed `problem` (non-empty) or an invalid plan.
ShuffleSchedule schedule_shuffle(const Communicator& comm, const SendPlan& plan, std::uint64_t fixed_row_bytes,
                                 const StringColumn* strings, std::uint64_t budget_bytes, const std::string& problem);

/// One fixed-size column of an exchange, as bytes: `out` is already sized to the rows received.
struct RawColumn {
  const std::byte* in = nullptr;
  std::byte* out = nullptr;
  std::size_t width = 0;  ///< bytes per row
};

/// Collective. Runs `schedule`: this rank's own rows are copied straight to their place; the
/// others travel round by round through one reused send buffer, point to point, and land directly
/// at their final place in the outputs (sized by the caller from the schedule; `strings_out` with
/// resize_for_fill when strings travel).
void run_exchange(const Communicator& comm, const SendPlan& plan, const ShuffleSchedule& schedule,
                  std::span<const RawColumn> columns, const StringColumn& strings_in, StringColumn* strings_out);

/// One fixed-size column of an exchange: where it comes from and where it goes.
template <Transportable T>
struct FixedColumn {
  std::span<const T> in;
  std::vector<T>* out;
};

/// Collective. Sends the rows of `plan` (fixed columns plus optional strings) and fills the
/// outputs (capacity reused) in source-rank order, then the sender's order.
template <Transportable... Ts>
void exchange_columns(const Communicator& comm, const SendPlan& plan, std::uint64_t budget_bytes,
                      const StringColumn* strings, StringColumn* strings_out, ShuffleStats* stats,
                      const std::string& problem, FixedColumn<Ts>... columns) {
  const std::uint64_t fixed_row_bytes = (std::uint64_t{0} + ... + sizeof(Ts));
  const ShuffleSchedule schedule = schedule_shuffle(comm, plan, fixed_row_bytes, strings, budget_bytes, problem);
  if (schedule.has_strings && strings_out == nullptr) {
    throw std::logic_error("exchange_columns: strings arrive but there is no column to hold them");
  }
  (columns.out->resize(schedule.rows_in), ...);
  if (strings_out != nullptr) {
    strings_out->clear();
    if (schedule.has_strings) strings_out->resize_for_fill(schedule.rows_in, schedule.bytes_in);
  }
  const std::array<RawColumn, sizeof...(Ts)> raw = {
      RawColumn{.in = reinterpret_cast<const std::byte*>(columns.in.data()),
                .out = reinterpret_cast<std::byte*>(columns.out->data()),
                .width = sizeof(Ts)}...};
  const StringColumn no_strings;  // a rank without rows may have no column while others send strings
  run_exchange(comm, plan, schedule, raw, strings != nullptr ? *strings : no_strings,
               schedule.has_strings ? strings_out : nullptr);
  if (stats != nullptr) *stats += schedule.stats;
}

}  // namespace detail

/// Collective. Sends row i to rank destination[i]; returns in `received` (cleared, capacity
/// reused) the rows this rank received, ordered by source rank, then by the sender's order.
/// Strings travel as lengths + bytes, with no per-row allocation. Runs in as many all-to-all rounds
/// as keep every rank's send buffer within the budget (all ranks agree on the round count; a single
/// row larger than the budget goes in a round of its own). Counts are 64-bit. Throws
/// std::invalid_argument on every rank when any rank passes a destination outside [0, P), a
/// destination list of the wrong length, or a string column that is neither empty nor one per
/// record (or strings on some ranks while other ranks with rows have none).
template <Transportable Record>
void shuffle_rows(const Communicator& comm, const Rows<Record>& rows, std::span<const int> destination,
                  Rows<Record>& received, const ShuffleBudget& budget = {}, ShuffleStats* stats = nullptr) {
  std::string problem;
  if (destination.size() != rows.records.size()) {
    problem = "shuffle_rows: " + std::to_string(destination.size()) + " destinations for " +
              std::to_string(rows.records.size()) + " records";
  } else if (!rows.strings.empty() && rows.strings.size() != rows.records.size()) {
    problem = "shuffle_rows: " + std::to_string(rows.strings.size()) + " strings for " +
              std::to_string(rows.records.size()) + " records";
  }
  const std::uint64_t count = problem.empty() ? rows.records.size() : 0;
  const int ranks = comm.size();
  const detail::SendPlan plan =
      detail::plan_by_destination(count, ranks, [&](std::uint64_t row) {
        const int d = destination[row];
        return d >= 0 && d < ranks ? d : std::numeric_limits<int>::min();  // invalid
      });
  const std::uint64_t budget_bytes = resolve_shuffle_budget(comm, budget);
  detail::exchange_columns(comm, plan, budget_bytes, rows.strings.empty() ? nullptr : &rows.strings,
                           &received.strings, stats, problem,
                           detail::FixedColumn<Record>{.in = rows.records, .out = &received.records});
}

}  // namespace omniseg::engine
