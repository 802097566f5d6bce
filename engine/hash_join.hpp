// engine/hash_join.hpp — the distributed hash join (inner and left) of two row-sharded tables.
//
// Owns: choosing a strategy (broadcast the small right side, shuffle both sides by key, or join
// co-located data in place), finding heavy ("whale") keys on the left and spreading their rows,
// and the rank-local kernel: a hash directory built over the right rows (stored once, never
// copied into the table) and probed by the left rows in batches. Does not own: moving bytes
// (engine/shuffle.hpp), which rank owns a key (engine/hash_partition.hpp), or what the rows mean.
//
// Strategies:
// - shuffle: both sides go to the owner of their key (owner_of(key) for 64-bit keys, so data
//   already partitioned that way is compatible; owner_of(hash_bytes(key)) for strings). Before
//   that, heavy left keys are found from a sample: 65,536 global row positions drawn with
//   engine::CounterRng (a pure function of the total row count, so the same positions for any rank
//   count; every row when there are fewer), the sampled hashes gathered on every rank; a key whose
//   sample count exceeds heavy_key_share of the sample is heavy. The left rows of a heavy key go to
//   any rank, chosen by their spread value (or their global row position), and the right rows of
//   a heavy key go to every rank. Which keys are heavy changes only where rows are joined, never
//   the result.
// - broadcast_right: the right side is gathered on every rank; left rows do not move.
// - colocated: both sides are already at the owner of their key (checked); nothing moves.
// - automatic: broadcast_right when the right side (records + key bytes, all ranks) is below
//   broadcast_threshold_bytes, shuffle otherwise. The choice depends on the data only, not on the
//   rank count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/hash_partition.hpp"
#include "engine/shuffle.hpp"
#include "engine/string_column.hpp"
#include "engine/wall_clock.hpp"

namespace omniseg::engine {

enum class JoinKind { inner, left };
enum class JoinStrategy { automatic, shuffle, broadcast_right, colocated };

struct JoinOptions {
  JoinKind kind = JoinKind::inner;
  JoinStrategy strategy = JoinStrategy::automatic;
  /// automatic: broadcast the right side when its total size over all ranks (records + key bytes)
  /// is below this; otherwise shuffle both sides by key.
  std::uint64_t broadcast_threshold_bytes = 64ull << 20;
  /// A key holding more than this share of all left rows (estimated from a sample) is "heavy": its
  /// left rows are spread over all ranks and its right rows replicated to them. 0 = automatic,
  /// 1/(4P); >= 1 disables skew handling. Only the shuffle strategy uses it.
  double heavy_key_share = 0;
  ShuffleBudget budget{};
};

/// What a join did. Counts are over all ranks (the same on every rank); seconds are this rank's.
struct JoinReport {
  JoinStrategy strategy = JoinStrategy::automatic;  ///< the strategy that ran (never automatic)
  std::uint64_t heavy_keys = 0;                     ///< heavy left keys found (shuffle only)
  std::uint64_t left_rows_moved = 0;                ///< left rows sent by the shuffle
  std::uint64_t right_rows_moved = 0;               ///< right rows sent (shuffle, heavy copies counted) or gathered
  std::uint64_t bytes_moved = 0;                    ///< bytes sent by all ranks
  std::uint64_t rounds = 0;                         ///< all-to-all rounds of the shuffles
  double seconds = 0;                               ///< wall time of hash_join on this rank
};

/// Join input: rows plus one key per row: 64-bit keys (std::vector<std::uint64_t>) or strings
/// (StringColumn). Optional `spread`: for left rows of heavy keys, rows with equal spread value go
/// to the same rank; empty = spread by row.
template <Transportable Record, class Keys>
struct JoinSide {
  std::vector<Record> rows{};
  Keys keys{};
  std::vector<std::uint64_t> spread{};
};

template <Transportable L, Transportable R, class Keys>
struct JoinResult {
  std::vector<L> left;                ///< one entry per output row
  std::vector<R> right;               ///< R{} where unmatched (left join)
  std::vector<std::uint8_t> matched;  ///< 1 = matched, 0 = left row without a match (left join)
  Keys keys;                          ///< the key of each output row
  JoinReport report;
};

namespace detail {

// ---- keys: what the join needs to know about a key column -----------------------------------------

template <class Keys>
struct JoinKeys;

/// 64-bit keys. The table hash is mix64(key); a key's owner is owner_of(key), which is a function
/// of that hash (its high bits), so both come from one mix.
template <>
struct JoinKeys<std::vector<std::uint64_t>> {
  using Column = std::vector<std::uint64_t>;
  static constexpr bool is_string = false;
  static std::uint64_t hash(const Column& keys, std::size_t row) { return mix64(keys[row]); }
  static int owner(std::uint64_t hash, int ranks) {
    return static_cast<int>(((hash >> 32) * static_cast<std::uint64_t>(ranks)) >> 32);
  }
  static bool equal(const Column& a, std::size_t i, const Column& b, std::size_t j) { return a[i] == b[j]; }
  static std::uint64_t payload_bytes(const Column& keys) { return keys.size() * sizeof(std::uint64_t); }
  static void prefetch(const Column& keys, std::size_t row) { __builtin_prefetch(keys.data() + row); }
  static void reserve(Column& keys, std::size_t rows, std::size_t) { keys.reserve(rows); }
  static void append(Column& out, const Column& in, std::size_t row) { out.push_back(in[row]); }
};

/// String keys. The table hash is hash_bytes(key); the owner is owner_of(hash_bytes(key)).
template <>
struct JoinKeys<StringColumn> {
  using Column = StringColumn;
  static constexpr bool is_string = true;
  static std::uint64_t hash(const Column& keys, std::size_t row) { return hash_bytes(keys[row]); }
  static int owner(std::uint64_t hash, int ranks) { return owner_of(hash, ranks); }
  static bool equal(const Column& a, std::size_t i, const Column& b, std::size_t j) { return a[i] == b[j]; }
  static std::uint64_t payload_bytes(const Column& keys) { return keys.byte_size(); }
  static void prefetch(const Column& keys, std::size_t row) { __builtin_prefetch(keys.offsets().data() + row); }
  static void reserve(Column& keys, std::size_t rows, std::size_t bytes) { keys.reserve(rows, bytes); }
  static void append(Column& out, const Column& in, std::size_t row) { out.push_back(in[row]); }
};

template <class Keys>
std::vector<std::uint64_t> hash_keys(const Keys& keys) {
  std::vector<std::uint64_t> hashes(keys.size());
  for (std::size_t i = 0; i < hashes.size(); ++i) hashes[i] = JoinKeys<Keys>::hash(keys, i);
  return hashes;
}

// ---- the rank-local kernel -----------------------------------------------------------------------

/// An open-addressing directory over right rows stored elsewhere: one slot per distinct 64-bit
/// hash (linear probing, load <= 1/2) holding the first row with that hash and a 31-bit tag; rows
/// sharing a hash are chained through next_row (ascending). No per-entry allocation.
class HashDirectory {
 public:
  static constexpr std::uint32_t no_row = 0xffffffffU;
  /// Set in a match (see probe) when more rows share the hash: walk next_row.
  static constexpr std::uint32_t chained_bit = 0x80000000U;
  /// Rows a directory can hold (row ids keep one bit for chained_bit).
  static constexpr std::uint64_t max_rows = 0x7fffffffU;

  struct Slot {
    std::uint32_t row_plus_one = 0;  ///< 0 = empty
    std::uint32_t tag = 0;           ///< high bits of the hash; low bit: more rows share the hash
  };

  /// Builds over `hashes` (one per right row). Throws std::length_error beyond max_rows.
  explicit HashDirectory(std::span<const std::uint64_t> hashes);

  static std::uint32_t tag_of(std::uint64_t hash) { return static_cast<std::uint32_t>(hash >> 32) & ~1U; }
  [[nodiscard]] std::size_t home(std::uint64_t hash) const { return static_cast<std::size_t>(hash) & mask_; }
  [[nodiscard]] std::size_t following(std::size_t slot) const { return (slot + 1) & mask_; }
  [[nodiscard]] const Slot& slot(std::size_t index) const { return slots_[index]; }
  [[nodiscard]] std::uint32_t next_row(std::uint32_t row) const { return next_[row]; }

 private:
  std::size_t mask_ = 0;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> next_;
};

/// Whether two byte strings of equal length `size` are equal: word compares, no call.
inline bool same_bytes(const char* a, const char* b, std::size_t size) {
  if (size >= 8) {
    std::size_t i = 0;
    for (; i + 8 < size; i += 8) {
      std::uint64_t x, y;
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::uint64_t x, y;  // the last 8 bytes, overlapping the words already compared
    std::memcpy(&x, a + size - 8, 8);
    std::memcpy(&y, b + size - 8, 8);
    return x == y;
  }
  for (std::size_t i = 0; i < size; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

/// For every left row: the first right row with an equal key, or no_row; chained_bit set when
/// further right rows share its hash (they may match too: walk next_row and compare keys). Probes
/// in batches, stage by stage (slot, then the right key's location, then its bytes), so that the
/// cache misses of a whole batch overlap instead of following one another.
template <class Keys>
void probe(const HashDirectory& directory, const Keys& left_keys, std::span<const std::uint64_t> left_hashes,
           const Keys& right_keys, std::vector<std::uint32_t>& first_match) {
  using K = JoinKeys<Keys>;
  constexpr std::size_t batch = 32;
  const std::size_t rows = left_hashes.size();
  first_match.resize(rows);
  std::size_t slot_at[batch];
  std::uint32_t candidate[batch];
  std::uint32_t chained[batch];
  [[maybe_unused]] std::uint64_t begin_at[batch];
  [[maybe_unused]] std::uint64_t end_at[batch];
  for (std::size_t base = 0; base < rows; base += batch) {
    const std::size_t count = std::min(batch, rows - base);
    for (std::size_t j = 0; j < count; ++j) {
      slot_at[j] = directory.home(left_hashes[base + j]);
      __builtin_prefetch(&directory.slot(slot_at[j]));
    }
    // The first slot with the same tag: almost always the key's slot.
    for (std::size_t j = 0; j < count; ++j) {
      const std::uint32_t tag = HashDirectory::tag_of(left_hashes[base + j]);
      std::size_t at = slot_at[j];
      candidate[j] = HashDirectory::no_row;
      for (HashDirectory::Slot s = directory.slot(at); s.row_plus_one != 0; s = directory.slot(at = directory.following(at))) {
        if ((s.tag & ~1U) == tag) {
          candidate[j] = s.row_plus_one - 1;
          chained[j] = (s.tag & 1U) != 0 ? HashDirectory::chained_bit : 0U;
          K::prefetch(right_keys, candidate[j]);
          break;
        }
      }
      slot_at[j] = at;
    }
    if constexpr (K::is_string) {
      const std::uint64_t* offsets = right_keys.offsets().data();
      const char* bytes = right_keys.bytes().data();
      for (std::size_t j = 0; j < count; ++j) {
        if (candidate[j] == HashDirectory::no_row) continue;
        begin_at[j] = offsets[candidate[j]];
        end_at[j] = offsets[candidate[j] + 1];
        __builtin_prefetch(bytes + begin_at[j]);
        if (end_at[j] > begin_at[j]) __builtin_prefetch(bytes + end_at[j] - 1);
      }
    }
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t row = base + j;
      if (candidate[j] == HashDirectory::no_row) {
        first_match[row] = HashDirectory::no_row;
        continue;
      }
      bool equal;
      if constexpr (K::is_string) {
        const std::string_view key = left_keys[row];
        equal = key.size() == end_at[j] - begin_at[j] &&
                same_bytes(key.data(), right_keys.bytes().data() + begin_at[j], key.size());
      } else {
        equal = K::equal(left_keys, row, right_keys, candidate[j]);
      }
      if (equal) {
        first_match[row] = candidate[j] | chained[j];
        continue;
      }
      // A tag or hash collision: go on through the slots and chains, comparing keys.
      std::uint32_t found = HashDirectory::no_row;
      const std::uint32_t tag = HashDirectory::tag_of(left_hashes[row]);
      std::size_t at = slot_at[j];
      for (HashDirectory::Slot s = directory.slot(at); s.row_plus_one != 0 && found == HashDirectory::no_row;
           s = directory.slot(at = directory.following(at))) {
        if ((s.tag & ~1U) != tag) continue;
        const bool has_chain = (s.tag & 1U) != 0;
        // Rows of a chain share the whole 64-bit hash; their keys almost always agree too.
        for (std::uint32_t r = s.row_plus_one - 1; r != HashDirectory::no_row;
             r = has_chain ? directory.next_row(r) : HashDirectory::no_row) {
          if (K::equal(left_keys, row, right_keys, r)) {
            found = r | (has_chain ? HashDirectory::chained_bit : 0U);
            break;
          }
        }
      }
      first_match[row] = found;
    }
  }
}

/// The rank-local join: every left row against the right rows, given both sides' hashes
/// (JoinKeys::hash). Consumes the left rows and keys (the output reuses their storage when every
/// left row yields exactly one output row).
template <Transportable L, Transportable R, class Keys>
void local_hash_join(std::vector<L>&& left_rows, Keys&& left_keys, std::vector<std::uint64_t>&& left_hashes,
                     const std::vector<R>& right_rows, const Keys& right_keys, std::span<const std::uint64_t> right_hashes,
                     JoinKind kind, JoinResult<L, R, Keys>& result) {
  using K = JoinKeys<Keys>;
  const HashDirectory directory(right_hashes);
  std::vector<std::uint32_t> first_match;
  probe(directory, left_keys, left_hashes, right_keys, first_match);
  left_hashes = {};

  const std::size_t rows = left_rows.size();
  const bool keep_unmatched = kind == JoinKind::left;
  // Outputs per left row: 0 or 1 unless a hash is chained.
  std::uint64_t outputs = 0;
  bool one_each = true;
  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint32_t match = first_match[i];
    std::uint64_t n = match == HashDirectory::no_row ? 0 : 1;
    if (match != HashDirectory::no_row && (match & HashDirectory::chained_bit) != 0) {
      n = 0;
      for (std::uint32_t r = match & ~HashDirectory::chained_bit; r != HashDirectory::no_row; r = directory.next_row(r)) {
        n += K::equal(left_keys, i, right_keys, r) ? 1 : 0;
      }
    }
    if (n == 0 && keep_unmatched) n = 1;
    one_each = one_each && n == 1;
    outputs += n;
  }

  if (one_each) {
    // Every left row yields exactly one output row: the left rows and keys are the output as they are.
    result.right.resize(rows);
    result.matched.resize(rows);
    constexpr std::size_t ahead = 16;
    for (std::size_t i = 0; i < rows; ++i) {
      if (i + ahead < rows && first_match[i + ahead] != HashDirectory::no_row) {
        __builtin_prefetch(right_rows.data() + (first_match[i + ahead] & ~HashDirectory::chained_bit));
      }
      const std::uint32_t match = first_match[i];
      if (match == HashDirectory::no_row) {
        result.right[i] = R{};
        result.matched[i] = 0;
        continue;
      }
      // The probe's match is an equal row, and with one output per row it is the only one.
      result.right[i] = right_rows[match & ~HashDirectory::chained_bit];
      result.matched[i] = 1;
    }
    result.left = std::move(left_rows);
    result.keys = std::move(left_keys);
    return;
  }

  result.left.clear();
  result.right.clear();
  result.matched.clear();
  result.keys = Keys{};
  result.left.reserve(outputs);
  result.right.reserve(outputs);
  result.matched.reserve(outputs);
  K::reserve(result.keys, outputs, 0);
  for (std::size_t i = 0; i < rows; ++i) {
    const std::uint32_t match = first_match[i];
    bool any = false;
    if (match != HashDirectory::no_row) {
      for (std::uint32_t r = match & ~HashDirectory::chained_bit; r != HashDirectory::no_row;
           r = (match & HashDirectory::chained_bit) != 0 ? directory.next_row(r) : HashDirectory::no_row) {
        if (!K::equal(left_keys, i, right_keys, r)) continue;
        result.left.push_back(left_rows[i]);
        result.right.push_back(right_rows[r]);
        result.matched.push_back(1);
        K::append(result.keys, left_keys, i);
        any = true;
      }
    }
    if (!any && keep_unmatched) {
      result.left.push_back(left_rows[i]);
      result.right.push_back(R{});
      result.matched.push_back(0);
      K::append(result.keys, left_keys, i);
    }
  }
  left_rows = {};
  left_keys = Keys{};
}

// ---- the distributed pieces ----------------------------------------------------------------------

/// Heavy left keys by their table hash (sorted, the same on every rank).
struct HeavyKeys {
  std::vector<std::uint64_t> hashes;
  [[nodiscard]] bool contains(std::uint64_t hash) const {
    return !hashes.empty() && std::binary_search(hashes.begin(), hashes.end(), hash);
  }
};

/// Collective. Samples left rows (see the header comment) and returns the hashes holding more
/// than `share` of the sample.
HeavyKeys find_heavy_keys(const Communicator& comm, std::span<const std::uint64_t> left_hashes, double share);

/// Collective. Throws std::invalid_argument on every rank when any rank has a `problem`.
void agree_on_input(const Communicator& comm, const std::string& problem);

/// Collective. Moves the rows of `plan` with their keys, and returns the received keys' hashes:
/// 64-bit keys are rehashed (one multiply chain), string hashes travel with the rows (cheaper
/// than hashing the strings again).
template <Transportable Record>
void exchange_side(const Communicator& comm, const SendPlan& plan, std::uint64_t budget_bytes,
                   const std::vector<Record>& rows, const std::vector<std::uint64_t>& keys,
                   const std::vector<std::uint64_t>& /*hashes*/, std::vector<Record>& rows_out,
                   std::vector<std::uint64_t>& keys_out, std::vector<std::uint64_t>& hashes_out, ShuffleStats& stats) {
  exchange_columns(comm, plan, budget_bytes, nullptr, nullptr, &stats, std::string(),
                   FixedColumn<Record>{.in = rows, .out = &rows_out},
                   FixedColumn<std::uint64_t>{.in = keys, .out = &keys_out});
  hashes_out = hash_keys(keys_out);
}
template <Transportable Record>
void exchange_side(const Communicator& comm, const SendPlan& plan, std::uint64_t budget_bytes,
                   const std::vector<Record>& rows, const StringColumn& keys, const std::vector<std::uint64_t>& hashes,
                   std::vector<Record>& rows_out, StringColumn& keys_out, std::vector<std::uint64_t>& hashes_out,
                   ShuffleStats& stats) {
  exchange_columns(comm, plan, budget_bytes, &keys, &keys_out, &stats, std::string(),
                   FixedColumn<Record>{.in = rows, .out = &rows_out},
                   FixedColumn<std::uint64_t>{.in = hashes, .out = &hashes_out});
}

/// Collective. The strategy to run: options.strategy, or for automatic, broadcast_right when the
/// right side (records + key bytes over all ranks) is below the threshold, shuffle otherwise.
template <Transportable R, class Keys>
JoinStrategy resolve_strategy(const Communicator& comm, const JoinSide<R, Keys>& right, const JoinOptions& options) {
  if (options.strategy != JoinStrategy::automatic) return options.strategy;
  const std::uint64_t right_bytes = comm.allreduce(
      static_cast<std::uint64_t>(right.rows.size() * sizeof(R) + JoinKeys<Keys>::payload_bytes(right.keys)), ReduceOp::sum);
  return right_bytes < options.broadcast_threshold_bytes ? JoinStrategy::broadcast_right : JoinStrategy::shuffle;
}

/// Collective. Fills the report's totals from this rank's counts: `moved` = {left rows, right rows,
/// bytes} sent by this rank.
inline void finish_report(const Communicator& comm, const std::uint64_t (&moved)[3], const ShuffleStats& stats,
                          double started, JoinReport& report) {
  const std::vector<std::uint64_t> totals = comm.allreduce(std::span<const std::uint64_t>(moved), ReduceOp::sum);
  report.left_rows_moved = totals[0];
  report.right_rows_moved = totals[1];
  report.bytes_moved = totals[2];
  report.rounds = stats.rounds;
  report.seconds = wall_seconds() - started;
}

/// Collective. Every rank's keys, in rank order.
inline std::vector<std::uint64_t> gather_keys(const Communicator& comm, const std::vector<std::uint64_t>& keys) {
  return comm.allgatherv(keys).data;
}
inline StringColumn gather_keys(const Communicator& comm, const StringColumn& keys) {
  std::vector<std::uint64_t> lengths(keys.size());
  for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = keys.length(i);
  const auto all_lengths = comm.allgatherv(lengths).data;
  const auto all_bytes = comm.allgatherv(keys.bytes()).data;
  StringColumn gathered;
  gathered.reserve(all_lengths.size(), all_bytes.size());
  gathered.append_block(all_lengths, all_bytes);
  return gathered;
}

}  // namespace detail

/// Collective. Every left row with k right matches yields k output rows (inner and left); a
/// left-join row without a match yields one row with matched = 0 and R{}. Output rows live on
/// whichever rank computed them (shuffle: the key's owner, or for a heavy key the rank its spread
/// value picked; broadcast and colocated: where the left row was). Within a rank, output follows
/// the left rows' order (after the shuffle: by source rank, then the sender's order), and a left
/// row's matches follow the right rows' order. Inputs are consumed. Throws std::invalid_argument on
/// every rank when any rank passes keys or spread values that do not match its rows, or
/// (colocated) a key that is not at its owner. A rank may hold at most 2^31 - 1 right rows after
/// the exchange.
template <Transportable L, Transportable R, class Keys>
JoinResult<L, R, Keys> hash_join(const Communicator& comm, JoinSide<L, Keys> left, JoinSide<R, Keys> right,
                                 const JoinOptions& options = {}) {
  using K = detail::JoinKeys<Keys>;
  const double started = wall_seconds();
  const int ranks = comm.size();
  const int rank = comm.rank();
  JoinResult<L, R, Keys> result;

  std::string problem;
  if (left.keys.size() != left.rows.size()) {
    problem = "hash_join: " + std::to_string(left.keys.size()) + " left keys for " + std::to_string(left.rows.size()) + " rows";
  } else if (right.keys.size() != right.rows.size()) {
    problem = "hash_join: " + std::to_string(right.keys.size()) + " right keys for " + std::to_string(right.rows.size()) + " rows";
  } else if (!left.spread.empty() && left.spread.size() != left.rows.size()) {
    problem = "hash_join: " + std::to_string(left.spread.size()) + " spread values for " + std::to_string(left.rows.size()) +
              " left rows";
  }
  detail::agree_on_input(comm, problem);

  const JoinStrategy strategy = detail::resolve_strategy(comm, right, options);
  result.report.strategy = strategy;
  std::uint64_t moved[3] = {0, 0, 0};  // left rows, right rows, bytes (this rank)
  ShuffleStats stats;

  if (strategy == JoinStrategy::colocated) {
    std::vector<std::uint64_t> left_hashes = detail::hash_keys(left.keys);
    const std::vector<std::uint64_t> right_hashes = detail::hash_keys(right.keys);
    std::string misplaced;
    const auto check = [&](const std::vector<std::uint64_t>& hashes, const char* side) {
      for (std::size_t i = 0; i < hashes.size() && misplaced.empty(); ++i) {
        if (K::owner(hashes[i], ranks) != rank) {
          misplaced = std::string("hash_join(colocated): ") + side + " row " + std::to_string(i) + " on rank " +
                      std::to_string(rank) + " is not at its key's owner";
        }
      }
    };
    check(left_hashes, "left");
    check(right_hashes, "right");
    detail::agree_on_input(comm, misplaced);
    detail::local_hash_join(std::move(left.rows), std::move(left.keys), std::move(left_hashes), right.rows, right.keys,
                            right_hashes, options.kind, result);
  } else if (strategy == JoinStrategy::broadcast_right) {
    if (ranks > 1) {
      std::vector<R> all_rows = comm.allgatherv(right.rows).data;
      right.rows = {};
      Keys all_keys = detail::gather_keys(comm, right.keys);
      right.keys = Keys{};
      moved[1] = all_rows.size();
      moved[2] = all_rows.size() * sizeof(R) + K::payload_bytes(all_keys);
      std::vector<std::uint64_t> left_hashes = detail::hash_keys(left.keys);
      const std::vector<std::uint64_t> right_hashes = detail::hash_keys(all_keys);
      detail::local_hash_join(std::move(left.rows), std::move(left.keys), std::move(left_hashes), all_rows, all_keys,
                              right_hashes, options.kind, result);
    } else {
      std::vector<std::uint64_t> left_hashes = detail::hash_keys(left.keys);
      const std::vector<std::uint64_t> right_hashes = detail::hash_keys(right.keys);
      detail::local_hash_join(std::move(left.rows), std::move(left.keys), std::move(left_hashes), right.rows, right.keys,
                              right_hashes, options.kind, result);
    }
  } else {
    const double share = options.heavy_key_share > 0 ? options.heavy_key_share : 1.0 / (4.0 * ranks);
    std::vector<std::uint64_t> left_hashes = detail::hash_keys(left.keys);
    detail::HeavyKeys heavy;
    if (share < 1.0) heavy = detail::find_heavy_keys(comm, left_hashes, share);
    result.report.heavy_keys = heavy.hashes.size();
    if (ranks == 1) {
      const std::vector<std::uint64_t> right_hashes = detail::hash_keys(right.keys);
      detail::local_hash_join(std::move(left.rows), std::move(left.keys), std::move(left_hashes), right.rows, right.keys,
                              right_hashes, options.kind, result);
    } else {
      const std::uint64_t budget_bytes = resolve_shuffle_budget(comm, options.budget);
      const std::uint64_t first_row = comm.exclusive_prefix_sum(left.rows.size());
      const auto ranks_u = static_cast<std::uint64_t>(ranks);
      detail::SendPlan left_plan = detail::plan_by_destination(left.rows.size(), ranks, [&](std::uint64_t row) {
        const std::uint64_t hash = left_hashes[row];
        if (!heavy.contains(hash)) return K::owner(hash, ranks);
        return left.spread.empty() ? static_cast<int>((first_row + row) % ranks_u) : owner_of(left.spread[row], ranks);
      });
      std::vector<L> left_rows;
      Keys left_keys;
      std::vector<std::uint64_t> received_left_hashes;
      detail::exchange_side(comm, left_plan, budget_bytes, left.rows, left.keys, left_hashes, left_rows, left_keys,
                            received_left_hashes, stats);
      left_hashes = {};
      moved[0] = left_plan.order.size();
      left_plan = {};
      left = {};

      const std::vector<std::uint64_t> right_hashes = detail::hash_keys(right.keys);
      detail::SendPlan right_plan = detail::plan_by_destination(right.rows.size(), ranks, [&](std::uint64_t row) {
        const std::uint64_t hash = right_hashes[row];
        return heavy.contains(hash) ? detail::send_everywhere : K::owner(hash, ranks);
      });
      std::vector<R> right_rows;
      Keys right_keys;
      std::vector<std::uint64_t> received_right_hashes;
      detail::exchange_side(comm, right_plan, budget_bytes, right.rows, right.keys, right_hashes, right_rows, right_keys,
                            received_right_hashes, stats);
      moved[1] = right_plan.order.size();
      moved[2] = stats.bytes_sent;
      right = {};
      detail::local_hash_join(std::move(left_rows), std::move(left_keys), std::move(received_left_hashes), right_rows,
                              right_keys, received_right_hashes, options.kind, result);
    }
  }

  detail::finish_report(comm, moved, stats, started, result.report);
  return result;
}

}  // namespace omniseg::engine
