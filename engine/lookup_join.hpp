// engine/lookup_join.hpp — the fact ⋈ dimension join: for every left key, the one right row with
// that key, delivered next to the left row, which never moves.
//
// Owns: the lookup strategies and their bookkeeping. Reuses the rank-local kernel (HashDirectory,
// probe), the heavy-key sample and the exchanges of engine/hash_join.hpp and engine/shuffle.hpp.
// Does not own: what the rows mean, or many-to-many joins (hash_join).
//
// Why a second join: joining order lines to a catalog or an identity map is a left join whose
// right keys are unique. hash_join would move every left row (an order line is tens of bytes) to
// its key's owner and hand back a new table; here only the key and nothing else travels, the
// answer comes back to where the left row is, and the left table stays in place and in order.
//
// Strategies (JoinOptions::strategy; automatic picks by the right side's total size, exactly as
// hash_join does, so the choice depends on the data, not on the rank count):
// - broadcast_right: every rank gathers the right side and probes its own keys.
// - shuffle: right rows go to their key's owner; heavy right keys (keys holding more than
//   heavy_key_share of the sampled left keys, the sample of hash_join) go to every rank. Each rank
//   probes all its left keys against the right rows it now holds — that settles its own keys and
//   every heavy key, so a whale key costs no traffic and no straggler — and sends the remaining
//   keys to their owners, which answer each request in the order received. Answers return along
//   the same routes, so they line up with the requests without carrying row numbers.
#pragma once

#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "engine/hash_join.hpp"

namespace omniseg::engine {

/// Per left row: the right row with an equal key (found = 1), or R{} (found = 0).
template <Transportable R>
struct LookupResult {
  std::vector<R> values;
  std::vector<std::uint8_t> found;
  JoinReport report;  ///< left_rows_moved counts the keys sent to owners
};

namespace detail {

/// Throws std::invalid_argument on every rank when a rank holds two right rows with equal keys:
/// after the right side reached its owners, equal keys are always on the same rank.
template <class Keys>
void check_unique_right_keys(const Communicator& comm, const HashDirectory& directory, const Keys& keys) {
  using K = JoinKeys<Keys>;
  std::string problem;
  for (std::uint32_t row = 0; row < keys.size() && problem.empty(); ++row) {
    for (std::uint32_t other = directory.next_row(row); other != HashDirectory::no_row; other = directory.next_row(other)) {
      if (K::equal(keys, row, keys, other)) {
        problem = "lookup_join: the right side holds a key twice (right keys must be unique)";
        break;
      }
    }
  }
  agree_on_input(comm, problem);
}

/// Collective. Sends the keys of `plan` (strings with their hashes; 64-bit keys alone, rehashed).
inline void exchange_keys(const Communicator& comm, const SendPlan& plan, std::uint64_t budget_bytes,
                          const std::vector<std::uint64_t>& keys, const std::vector<std::uint64_t>& /*hashes*/,
                          std::vector<std::uint64_t>& keys_out, std::vector<std::uint64_t>& hashes_out, ShuffleStats& stats) {
  exchange_columns(comm, plan, budget_bytes, nullptr, nullptr, &stats, std::string(),
                   FixedColumn<std::uint64_t>{.in = keys, .out = &keys_out});
  hashes_out = hash_keys(keys_out);
}
inline void exchange_keys(const Communicator& comm, const SendPlan& plan, std::uint64_t budget_bytes,
                          const StringColumn& keys, const std::vector<std::uint64_t>& hashes, StringColumn& keys_out,
                          std::vector<std::uint64_t>& hashes_out, ShuffleStats& stats) {
  exchange_columns(comm, plan, budget_bytes, &keys, &keys_out, &stats, std::string(),
                   FixedColumn<std::uint64_t>{.in = hashes, .out = &hashes_out});
}

}  // namespace detail

/// Collective. For each left key i with active[i] != 0 (all rows when `active` is empty), finds
/// the right row with an equal key. Right keys must be unique over all ranks. The right side is
/// consumed; `right.spread` is ignored. Results are the same on any number of ranks and for any
/// strategy. Throws std::invalid_argument on every rank when a rank passes keys that do not match
/// its rows, a mask of the wrong length, the colocated strategy, or duplicate right keys.
template <Transportable R, class Keys>
LookupResult<R> lookup_join(const Communicator& comm, const Keys& left_keys, std::span<const std::uint8_t> active,
                            JoinSide<R, Keys> right, const JoinOptions& options = {}) {
  using K = detail::JoinKeys<Keys>;
  const double started = wall_seconds();
  const int ranks = comm.size();
  const std::size_t rows = left_keys.size();
  LookupResult<R> result;

  std::string problem;
  if (right.keys.size() != right.rows.size()) {
    problem = "lookup_join: " + std::to_string(right.keys.size()) + " right keys for " + std::to_string(right.rows.size()) + " rows";
  } else if (!active.empty() && active.size() != rows) {
    problem = "lookup_join: an activity mask of " + std::to_string(active.size()) + " for " + std::to_string(rows) + " keys";
  } else if (options.strategy == JoinStrategy::colocated) {
    problem = "lookup_join: the colocated strategy is hash_join's";
  }
  detail::agree_on_input(comm, problem);
  const auto is_active = [&](std::size_t row) { return active.empty() || active[row] != 0; };

  const JoinStrategy strategy = detail::resolve_strategy(comm, right, options);
  result.report.strategy = strategy;
  std::uint64_t moved[3] = {0, 0, 0};  // left keys sent, right rows sent, bytes sent (this rank)
  ShuffleStats stats;

  const std::vector<std::uint64_t> left_hashes = detail::hash_keys(left_keys);

  // The right rows this rank holds: all of them (broadcast, one rank), or its own keys and the heavy ones.
  std::vector<R> right_rows;
  Keys right_keys;
  std::vector<std::uint64_t> right_hashes;
  detail::HeavyKeys heavy;
  if (ranks == 1) {
    right_rows = std::move(right.rows);
    right_keys = std::move(right.keys);
    right_hashes = detail::hash_keys(right_keys);
  } else if (strategy == JoinStrategy::broadcast_right) {
    right_rows = comm.allgatherv(right.rows).data;
    right_keys = detail::gather_keys(comm, right.keys);
    right = {};
    right_hashes = detail::hash_keys(right_keys);
    moved[1] = right_rows.size();
    moved[2] = right_rows.size() * sizeof(R) + K::payload_bytes(right_keys);
  } else {
    const double share = options.heavy_key_share > 0 ? options.heavy_key_share : 1.0 / (4.0 * ranks);
    if (share < 1.0) {
      if (active.empty()) {
        heavy = detail::find_heavy_keys(comm, left_hashes, share);
      } else {
        std::vector<std::uint64_t> active_hashes;
        for (std::size_t i = 0; i < rows; ++i) {
          if (active[i] != 0) active_hashes.push_back(left_hashes[i]);
        }
        heavy = detail::find_heavy_keys(comm, active_hashes, share);
      }
    }
    result.report.heavy_keys = heavy.hashes.size();
    const std::vector<std::uint64_t> hashes = detail::hash_keys(right.keys);
    detail::SendPlan plan = detail::plan_by_destination(right.rows.size(), ranks, [&](std::uint64_t row) {
      return heavy.contains(hashes[row]) ? detail::send_everywhere : K::owner(hashes[row], ranks);
    });
    const std::uint64_t budget_bytes = resolve_shuffle_budget(comm, options.budget);
    detail::exchange_side(comm, plan, budget_bytes, right.rows, right.keys, hashes, right_rows, right_keys,
                          right_hashes, stats);
    moved[1] = plan.order.size();
    right = {};
  }
  const detail::HashDirectory directory(right_hashes);
  detail::check_unique_right_keys(comm, directory, right_keys);

  // Every left key against the right rows held here.
  std::vector<std::uint32_t> match;
  detail::probe(directory, left_keys, left_hashes, right_keys, match);
  result.values.resize(rows);
  result.found.resize(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const bool hit = match[i] != detail::HashDirectory::no_row && is_active(i);
    result.found[i] = hit ? 1 : 0;
    result.values[i] = hit ? right_rows[match[i] & ~detail::HashDirectory::chained_bit] : R{};
  }

  if (strategy == JoinStrategy::shuffle && ranks > 1) {
    // The keys still open belong to other ranks: ask their owners.
    const int rank = comm.rank();
    const detail::SendPlan asked = detail::plan_by_destination(rows, ranks, [&](std::uint64_t row) {
      if (result.found[row] != 0 || !is_active(row)) return detail::send_nowhere;
      const std::uint64_t hash = left_hashes[row];
      const int owner = K::owner(hash, ranks);
      return owner == rank || heavy.contains(hash) ? detail::send_nowhere : owner;
    });
    const std::uint64_t budget_bytes = resolve_shuffle_budget(comm, options.budget);
    Keys request_keys;
    std::vector<std::uint64_t> request_hashes;
    detail::exchange_keys(comm, asked, budget_bytes, left_keys, left_hashes, request_keys, request_hashes, stats);
    moved[0] = asked.order.size();

    // Answer in the order asked; the answers travel back along the same routes.
    detail::probe(directory, request_keys, request_hashes, right_keys, match);
    std::vector<R> answers(match.size());
    std::vector<std::uint8_t> answered(match.size());
    for (std::size_t i = 0; i < match.size(); ++i) {
      answered[i] = match[i] != detail::HashDirectory::no_row ? 1 : 0;
      answers[i] = answered[i] != 0 ? right_rows[match[i] & ~detail::HashDirectory::chained_bit] : R{};
    }
    detail::SendPlan back;
    back.counts = comm.alltoall(asked.counts);  // requests received from each rank, in rank order
    back.order.resize(match.size());
    std::iota(back.order.begin(), back.order.end(), std::uint64_t{0});
    std::vector<R> returned;
    std::vector<std::uint8_t> returned_found;
    detail::exchange_columns(comm, back, budget_bytes, nullptr, nullptr, &stats, std::string(),
                             detail::FixedColumn<R>{.in = answers, .out = &returned},
                             detail::FixedColumn<std::uint8_t>{.in = answered, .out = &returned_found});
    for (std::size_t j = 0; j < asked.order.size(); ++j) {
      result.values[asked.order[j]] = returned[j];
      result.found[asked.order[j]] = returned_found[j];
    }
    moved[2] = stats.bytes_sent;
  }

  detail::finish_report(comm, moved, stats, started, result.report);
  return result;
}

}  // namespace omniseg::engine
