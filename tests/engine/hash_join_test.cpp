// hash_join at 1-4 ranks against a brute-force nested-loop join of the gathered inputs: the
// multiset of (left record, right record, matched) gathered to rank 0 must be equal, and every
// output row must carry its left row's key. Both key types, inner and left joins, every strategy,
// empty ranks, one key everywhere, a heavy key holding half the left rows (the heavy-key path runs
// and spreads it), duplicate right keys, awkward string keys (commas, quotes, NUL, empty), tiny
// shuffle budgets, and the rank-local kernel with forced hash collisions.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/hash_join.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::engine {
namespace {

struct LeftRecord {
  std::uint64_t id = 0;       ///< unique over all ranks
  std::uint64_t key_id = 0;   ///< which key (the test's own record of it)
  std::uint64_t spread = 0;
  std::uint32_t payload = 0;
  std::uint32_t pad = 0;
};
struct RightRecord {
  std::uint64_t id = 0;  ///< unique over all ranks; 0 only in R{}
  std::uint64_t key_id = 0;
};

using U64Keys = std::vector<std::uint64_t>;

/// The string form of key k: commas, quotes, NUL bytes, and the empty string for k = 0.
std::string string_key(std::uint64_t k) {
  if (k == 0) return std::string();
  std::string key = "ch" + std::to_string(k % 3) + ":";
  key += (k % 2 == 0) ? "\"cust,omer\"" : std::string("n\0ul", 4);
  key += std::to_string(k);
  if (k % 5 == 0) key.push_back('\0');
  return key;
}

std::uint64_t u64_key(std::uint64_t k) { return k * 0x9e3779b97f4a7c15ULL + 11; }

template <class Keys>
void add_key(Keys& keys, std::uint64_t k) {
  if constexpr (std::is_same_v<Keys, StringColumn>) {
    keys.push_back(string_key(k));
  } else {
    keys.push_back(u64_key(k));
  }
}

struct Spec {
  std::uint64_t seed = 0;
  std::uint64_t max_left = 200;    ///< per rank
  std::uint64_t max_right = 100;   ///< per rank
  std::uint64_t key_range = 50;
  double heavy_share = 0;          ///< share of left rows with key 1
  int only_rank = -1;              ///< all rows on this rank
  bool spread = false;
};

/// Every rank's input, generated identically on every rank; side[r] is rank r's.
struct GlobalInput {
  std::vector<std::vector<LeftRecord>> left;
  std::vector<std::vector<RightRecord>> right;
};

GlobalInput make_input(const Spec& spec, int ranks) {
  std::mt19937_64 rng(spec.seed);
  GlobalInput input;
  input.left.resize(static_cast<std::size_t>(ranks));
  input.right.resize(static_cast<std::size_t>(ranks));
  std::uint64_t left_id = 1, right_id = 1;
  for (int r = 0; r < ranks; ++r) {
    if (spec.only_rank >= 0 && r != spec.only_rank) continue;
    const std::uint64_t left_rows = spec.max_left == 0 ? 0 : rng() % (spec.max_left + 1);
    const std::uint64_t right_rows = spec.max_right == 0 ? 0 : rng() % (spec.max_right + 1);
    for (std::uint64_t i = 0; i < left_rows; ++i) {
      const bool heavy = std::uniform_real_distribution<double>(0, 1)(rng) < spec.heavy_share;
      const std::uint64_t k = heavy ? 1 : rng() % spec.key_range;
      input.left[static_cast<std::size_t>(r)].push_back(
          {left_id++, k, spec.spread ? rng() % 97 : 0, static_cast<std::uint32_t>(rng()), 0});
    }
    for (std::uint64_t i = 0; i < right_rows; ++i) {
      // Keys beyond the left range (no partner) and duplicates (several partners) on purpose.
      input.right[static_cast<std::size_t>(r)].push_back({right_id++, rng() % (spec.key_range + 10)});
    }
  }
  return input;
}

template <class Keys>
JoinSide<LeftRecord, Keys> left_side(const std::vector<LeftRecord>& rows, bool spread) {
  JoinSide<LeftRecord, Keys> side;
  side.rows = rows;
  for (const auto& row : rows) {
    add_key(side.keys, row.key_id);
    if (spread) side.spread.push_back(row.spread);
  }
  return side;
}
template <class Keys>
JoinSide<RightRecord, Keys> right_side(const std::vector<RightRecord>& rows) {
  JoinSide<RightRecord, Keys> side;
  side.rows = rows;
  for (const auto& row : rows) add_key(side.keys, row.key_id);
  return side;
}

/// (left id, right id, matched): one output row, comparable.
using OutputRow = std::tuple<std::uint64_t, std::uint64_t, std::uint8_t>;

std::vector<OutputRow> brute_force(const GlobalInput& input, JoinKind kind) {
  std::vector<RightRecord> right;
  for (const auto& shard : input.right) right.insert(right.end(), shard.begin(), shard.end());
  std::vector<OutputRow> out;
  for (const auto& shard : input.left) {
    for (const auto& l : shard) {
      bool any = false;
      for (const auto& r : right) {
        if (r.key_id != l.key_id) continue;
        out.emplace_back(l.id, r.id, 1);
        any = true;
      }
      if (!any && kind == JoinKind::left) out.emplace_back(l.id, 0, 0);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Checks the local output (keys match their left rows, R{} where unmatched) and returns all
/// ranks' output rows, sorted, on every rank.
template <class Keys>
std::vector<OutputRow> gather_output(const JoinResult<LeftRecord, RightRecord, Keys>& result) {
  const auto& comm = testing::world();
  EXPECT_EQ(result.left.size(), result.right.size());
  EXPECT_EQ(result.left.size(), result.matched.size());
  EXPECT_EQ(result.left.size(), result.keys.size());
  struct Row {
    std::uint64_t left, right;
    std::uint8_t matched;
  };
  std::vector<Row> rows;
  for (std::size_t i = 0; i < result.left.size() && i < result.keys.size(); ++i) {
    const LeftRecord& l = result.left[i];
    const RightRecord& r = result.right[i];
    if constexpr (std::is_same_v<Keys, StringColumn>) {
      EXPECT_EQ(result.keys[i], string_key(l.key_id));
    } else {
      EXPECT_EQ(result.keys[i], u64_key(l.key_id));
    }
    if (result.matched[i]) {
      EXPECT_EQ(r.key_id, l.key_id);
    } else {
      EXPECT_EQ(r.id, 0U);
    }
    rows.push_back({l.id, r.id, result.matched[i]});
  }
  std::vector<OutputRow> all;
  for (const Row& row : comm.allgatherv(rows).data) all.emplace_back(row.left, row.right, row.matched);
  std::sort(all.begin(), all.end());
  return all;
}

template <class Keys>
JoinResult<LeftRecord, RightRecord, Keys> run_join(const GlobalInput& input, const JoinOptions& options, bool spread) {
  const auto& comm = testing::world();
  const auto r = static_cast<std::size_t>(comm.rank());
  return hash_join(comm, left_side<Keys>(input.left[r], spread), right_side<Keys>(input.right[r]), options);
}

template <class Keys>
void expect_join(const Spec& spec, JoinOptions options) {
  const auto& comm = testing::world();
  const GlobalInput input = make_input(spec, comm.size());
  const auto result = run_join<Keys>(input, options, spec.spread);
  EXPECT_EQ(gather_output(result), brute_force(input, options.kind))
      << "seed " << spec.seed << " kind " << static_cast<int>(options.kind) << " strategy "
      << static_cast<int>(options.strategy);
  EXPECT_NE(result.report.strategy, JoinStrategy::automatic);
  if (options.strategy != JoinStrategy::automatic) {
    EXPECT_EQ(result.report.strategy, options.strategy);
  }
}

template <class Keys>
void for_every_kind_and_strategy(const Spec& spec, JoinOptions options = {}) {
  for (const JoinKind kind : {JoinKind::inner, JoinKind::left}) {
    for (const JoinStrategy strategy : {JoinStrategy::automatic, JoinStrategy::shuffle, JoinStrategy::broadcast_right}) {
      options.kind = kind;
      options.strategy = strategy;
      expect_join<Keys>(spec, options);
    }
  }
}

template <class Keys>
class HashJoin : public ::testing::Test {};
using KeyTypes = ::testing::Types<U64Keys, StringColumn>;
TYPED_TEST_SUITE(HashJoin, KeyTypes);

TYPED_TEST(HashJoin, RandomAgainstBruteForce) {
  for (std::uint64_t seed = 0; seed < 8; ++seed) {
    for (const std::uint64_t key_range : {3ULL, 40ULL, 1000ULL}) {
      for_every_kind_and_strategy<TypeParam>({.seed = seed, .max_left = 20 + seed * 40, .max_right = 10 + seed * 15,
                                              .key_range = key_range});
    }
  }
}

TYPED_TEST(HashJoin, EmptyRanksAndEmptySides) {
  const auto& comm = testing::world();
  for (int only = 0; only < comm.size(); ++only) {
    for_every_kind_and_strategy<TypeParam>({.seed = 5, .max_left = 300, .max_right = 60, .only_rank = only});
  }
  for_every_kind_and_strategy<TypeParam>({.seed = 6, .max_left = 0, .max_right = 0});    // nothing at all
  for_every_kind_and_strategy<TypeParam>({.seed = 7, .max_left = 100, .max_right = 0});  // no right rows
  for_every_kind_and_strategy<TypeParam>({.seed = 8, .max_left = 0, .max_right = 100});  // no left rows
}

TYPED_TEST(HashJoin, OneKeyEverywhere) {
  // Every left row matches every right row: duplicates on both sides, one owner.
  for_every_kind_and_strategy<TypeParam>({.seed = 9, .max_left = 60, .max_right = 6, .key_range = 1});
  JoinOptions options{.strategy = JoinStrategy::shuffle, .heavy_key_share = 0.25};
  expect_join<TypeParam>({.seed = 10, .max_left = 60, .max_right = 6, .key_range = 1}, options);
}

TYPED_TEST(HashJoin, HeavyKeyIsSpreadOverTheRanks) {
  const auto& comm = testing::world();
  for (const bool spread : {false, true}) {
    const Spec spec{.seed = 11, .max_left = 4000, .max_right = 50, .key_range = 500, .heavy_share = 0.5, .spread = spread};
    const GlobalInput input = make_input(spec, comm.size());
    for (const JoinKind kind : {JoinKind::inner, JoinKind::left}) {
      const JoinOptions options{.kind = kind, .strategy = JoinStrategy::shuffle};
      const auto result = run_join<TypeParam>(input, options, spread);
      EXPECT_EQ(gather_output(result), brute_force(input, kind));
      EXPECT_EQ(result.report.heavy_keys, 1U);  // key 1 and nothing else
      // No rank holds much more than its share of the heavy key's left rows.
      std::uint64_t heavy_here = 0;
      std::map<std::uint64_t, std::uint64_t> left_ids;
      for (std::size_t i = 0; i < result.left.size(); ++i) {
        if (result.left[i].key_id == 1) left_ids[result.left[i].id] = result.left[i].spread;
      }
      heavy_here = left_ids.size();
      const std::uint64_t heavy_total = comm.allreduce(heavy_here, ReduceOp::sum);
      const double limit = (1.0 / comm.size() + 0.08) * static_cast<double>(heavy_total);
      EXPECT_LE(static_cast<double>(heavy_here), limit) << "rank " << comm.rank() << " of " << heavy_total;
      if (spread) {
        // Rows with equal spread values stayed together: each spread value of the heavy key is on one rank.
        std::vector<std::uint64_t> values;
        for (const auto& [id, value] : left_ids) values.push_back(value);
        std::sort(values.begin(), values.end());
        values.erase(std::unique(values.begin(), values.end()), values.end());
        const auto all = comm.allgatherv(values).data;
        std::vector<std::uint64_t> sorted = all;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end()) << "a spread value landed on two ranks";
      }
    }
  }
  // Skew handling off: the same answer, no heavy keys.
  const Spec spec{.seed = 12, .max_left = 1000, .max_right = 50, .key_range = 100, .heavy_share = 0.5};
  const JoinOptions off{.kind = JoinKind::left, .strategy = JoinStrategy::shuffle, .heavy_key_share = 1.0};
  const GlobalInput input = make_input(spec, comm.size());
  const auto result = run_join<TypeParam>(input, off, false);
  EXPECT_EQ(result.report.heavy_keys, 0U);
  EXPECT_EQ(gather_output(result), brute_force(input, JoinKind::left));
}

TYPED_TEST(HashJoin, ManyHeavyKeysWithDuplicatesOnTheRight) {
  // A low threshold makes many keys heavy; their right rows (several per key) are replicated.
  for (const JoinKind kind : {JoinKind::inner, JoinKind::left}) {
    expect_join<TypeParam>({.seed = 13, .max_left = 800, .max_right = 80, .key_range = 12},
                           {.kind = kind, .strategy = JoinStrategy::shuffle, .heavy_key_share = 0.01});
  }
}

TYPED_TEST(HashJoin, TinyBudgetForcesManyRounds) {
  const auto& comm = testing::world();
  const Spec spec{.seed = 14, .max_left = 300, .max_right = 100, .key_range = 30};
  const GlobalInput input = make_input(spec, comm.size());
  const JoinOptions options{.kind = JoinKind::left, .strategy = JoinStrategy::shuffle, .budget = {.bytes_per_rank = 256}};
  const auto result = run_join<TypeParam>(input, options, false);
  EXPECT_EQ(gather_output(result), brute_force(input, JoinKind::left));
  if (comm.size() > 1) {
    EXPECT_GT(result.report.rounds, 2U);
  }
  EXPECT_EQ(comm.allreduce(result.report.rounds, ReduceOp::min), comm.allreduce(result.report.rounds, ReduceOp::max));
}

TYPED_TEST(HashJoin, AutomaticPicksBySize) {
  const Spec spec{.seed = 15, .max_left = 100, .max_right = 40};
  const auto& comm = testing::world();
  const GlobalInput input = make_input(spec, comm.size());
  EXPECT_EQ(run_join<TypeParam>(input, {}, false).report.strategy, JoinStrategy::broadcast_right);
  const auto big = run_join<TypeParam>(input, {.broadcast_threshold_bytes = 0}, false);
  EXPECT_EQ(big.report.strategy, JoinStrategy::shuffle);
  EXPECT_EQ(gather_output(big), brute_force(input, JoinKind::inner));
}

TYPED_TEST(HashJoin, Colocated) {
  const auto& comm = testing::world();
  using K = detail::JoinKeys<TypeParam>;
  // Keep, on each rank, the rows whose key it owns (as a caller's earlier shuffle would have).
  const GlobalInput global = make_input({.seed = 16, .max_left = 200, .max_right = 80, .key_range = 40}, 1);
  GlobalInput input;
  input.left.resize(static_cast<std::size_t>(comm.size()));
  input.right.resize(static_cast<std::size_t>(comm.size()));
  TypeParam one;
  const auto owner = [&](std::uint64_t key_id) {
    one = TypeParam{};
    add_key(one, key_id);
    return static_cast<std::size_t>(K::owner(K::hash(one, 0), comm.size()));
  };
  for (const auto& row : global.left[0]) input.left[owner(row.key_id)].push_back(row);
  for (const auto& row : global.right[0]) input.right[owner(row.key_id)].push_back(row);
  for (const JoinKind kind : {JoinKind::inner, JoinKind::left}) {
    const auto result = run_join<TypeParam>(input, {.kind = kind, .strategy = JoinStrategy::colocated}, false);
    EXPECT_EQ(result.report.strategy, JoinStrategy::colocated);
    EXPECT_EQ(result.report.left_rows_moved + result.report.right_rows_moved, 0U);
    EXPECT_EQ(gather_output(result), brute_force(input, kind));
  }
  if (comm.size() > 1) {
    // Misplaced rows are refused on every rank.
    GlobalInput misplaced = input;
    std::rotate(misplaced.left.begin(), misplaced.left.begin() + 1, misplaced.left.end());
    const bool any_rows = !global.left[0].empty();
    if (any_rows) {
      EXPECT_THROW(run_join<TypeParam>(misplaced, {.strategy = JoinStrategy::colocated}, false), std::invalid_argument);
    }
  }
}

TYPED_TEST(HashJoin, MismatchedInputFailsOnEveryRank) {
  const auto& comm = testing::world();
  JoinSide<LeftRecord, TypeParam> left;
  JoinSide<RightRecord, TypeParam> right;
  left.rows.resize(2);
  add_key(left.keys, 1);
  add_key(left.keys, 2);
  if (comm.rank() == comm.size() - 1) left.rows.resize(3);  // a key missing on one rank
  EXPECT_THROW(hash_join(comm, std::move(left), std::move(right)), std::invalid_argument);
  const auto ok = hash_join(comm, JoinSide<LeftRecord, TypeParam>{}, JoinSide<RightRecord, TypeParam>{});
  EXPECT_TRUE(ok.left.empty());
}

TYPED_TEST(HashJoin, LocalKernelWithForcedHashCollisions) {
  // The directory and the probe with hashes that collide on purpose (many keys, 3 hash values, and
  // 64-bit-equal hashes for different keys): chains and tag matches must still find exactly the
  // equal keys.
  using K = detail::JoinKeys<TypeParam>;
  std::mt19937_64 rng(17);
  std::vector<std::uint64_t> right_ids, left_ids;
  TypeParam right_keys, left_keys;
  for (int i = 0; i < 300; ++i) {
    right_ids.push_back(rng() % 60);
    add_key(right_keys, right_ids.back());
  }
  for (int i = 0; i < 500; ++i) {
    left_ids.push_back(rng() % 80);
    add_key(left_keys, left_ids.back());
  }
  const auto forced = [](std::uint64_t id) { return (id % 3) * 0x0000000100000001ULL; };
  std::vector<std::uint64_t> right_hashes, left_hashes;
  for (const auto id : right_ids) right_hashes.push_back(forced(id));
  for (const auto id : left_ids) left_hashes.push_back(forced(id));
  const detail::HashDirectory directory(right_hashes);
  std::vector<std::uint32_t> first;
  detail::probe(directory, left_keys, left_hashes, right_keys, first);
  for (std::size_t i = 0; i < left_ids.size(); ++i) {
    std::vector<std::uint32_t> expected, found;
    for (std::uint32_t r = 0; r < right_ids.size(); ++r) {
      if (right_ids[r] == left_ids[i]) expected.push_back(r);
    }
    if (first[i] != detail::HashDirectory::no_row) {
      const bool chained = (first[i] & detail::HashDirectory::chained_bit) != 0;
      for (std::uint32_t r = first[i] & ~detail::HashDirectory::chained_bit; r != detail::HashDirectory::no_row;
           r = chained ? directory.next_row(r) : detail::HashDirectory::no_row) {
        if (K::equal(left_keys, i, right_keys, r)) found.push_back(r);
      }
    }
    EXPECT_EQ(found, expected) << "left row " << i;
  }
}

}  // namespace
}  // namespace omniseg::engine
