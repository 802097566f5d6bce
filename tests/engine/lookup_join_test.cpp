// lookup_join at 1-4 ranks against a brute-force scan of the whole right side: every left row,
// where it stands, must get the right row with its key (or nothing). Both key types, both
// strategies, an activity mask, empty ranks, keys without partners, one key holding half the left
// rows (the heavy path must run), every row with one key, awkward string keys, a tiny shuffle
// budget, and duplicate right keys as an error on every rank.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/lookup_join.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::engine {
namespace {

struct Value {
  std::uint64_t key_id = 0;  ///< 0 only in R{}
  std::uint64_t payload = 0;
};

/// Key k's bytes as a string: commas, quotes, NUL bytes; k = 0 is the empty string.
std::string string_key(std::uint64_t k) {
  if (k == 0) return std::string();
  std::string key = (k % 2 == 0) ? "\"cust,omer\"" : std::string("n\0ul", 4);
  return key + std::to_string(k) + ((k % 5 == 0) ? std::string(1, '\0') : std::string());
}

template <class Keys>
void add_key(Keys& keys, std::uint64_t k) {
  if constexpr (std::is_same_v<Keys, StringColumn>) {
    keys.push_back(string_key(k));
  } else {
    keys.push_back(k * 0x9e3779b97f4a7c15ULL + 7);
  }
}

struct Spec {
  std::uint64_t seed = 1;
  std::uint64_t max_left = 300;   ///< per rank
  std::uint64_t key_range = 80;   ///< left keys in [0, key_range)
  std::uint64_t right_keys = 60;  ///< right keys: a random subset of [0, key_range + 20), unique
  double heavy_share = 0;         ///< share of left rows with key 3
  int only_rank = -1;             ///< all left and right rows on this rank
  bool mask = false;              ///< every third left row inactive
};

/// The same global input on every rank: left key ids per rank, right (key id, payload) per rank.
struct Input {
  std::vector<std::vector<std::uint64_t>> left;
  std::vector<std::vector<Value>> right;
};

Input make_input(const Spec& spec, int ranks) {
  std::mt19937_64 rng(spec.seed);
  Input input;
  input.left.resize(static_cast<std::size_t>(ranks));
  input.right.resize(static_cast<std::size_t>(ranks));
  std::vector<std::uint64_t> candidates(spec.key_range + 20);
  for (std::uint64_t k = 0; k < candidates.size(); ++k) candidates[k] = k;
  std::shuffle(candidates.begin(), candidates.end(), rng);
  candidates.resize(std::min<std::size_t>(spec.right_keys, candidates.size()));
  for (const std::uint64_t k : candidates) {
    const int r = spec.only_rank >= 0 ? spec.only_rank : static_cast<int>(rng() % static_cast<std::uint64_t>(ranks));
    input.right[static_cast<std::size_t>(r)].push_back({.key_id = k, .payload = rng()});
  }
  for (int r = 0; r < ranks; ++r) {
    if (spec.only_rank >= 0 && r != spec.only_rank) continue;
    const std::uint64_t rows = rng() % (spec.max_left + 1);
    for (std::uint64_t i = 0; i < rows; ++i) {
      const bool heavy = std::uniform_real_distribution<double>(0, 1)(rng) < spec.heavy_share;
      input.left[static_cast<std::size_t>(r)].push_back(heavy ? 3 : rng() % spec.key_range);
    }
  }
  return input;
}

template <class Keys>
LookupResult<Value> run_lookup(const Communicator& comm, const Input& input, const Spec& spec, const JoinOptions& options,
                               std::vector<std::uint8_t>& active) {
  const auto rank = static_cast<std::size_t>(comm.rank());
  Keys left_keys;
  for (const std::uint64_t k : input.left[rank]) add_key(left_keys, k);
  active.clear();
  if (spec.mask) {
    for (std::size_t i = 0; i < input.left[rank].size(); ++i) active.push_back(i % 3 != 0 ? 1 : 0);
  }
  JoinSide<Value, Keys> right;
  right.rows = input.right[rank];
  for (const Value& value : right.rows) add_key(right.keys, value.key_id);
  return lookup_join(comm, left_keys, active, std::move(right), options);
}

template <class Keys>
void expect_like_brute_force(const Spec& spec, const JoinOptions& options, std::uint64_t expect_heavy_at_least = 0) {
  const Communicator comm = Communicator::world();
  const Input input = make_input(spec, comm.size());
  std::map<std::uint64_t, Value> by_key;  // the brute force: the whole right side on every rank
  for (const auto& shard : input.right) {
    for (const Value& value : shard) by_key[value.key_id] = value;
  }
  std::vector<std::uint8_t> active;
  const LookupResult<Value> result = run_lookup<Keys>(comm, input, spec, options, active);
  const auto& left = input.left[static_cast<std::size_t>(comm.rank())];
  ASSERT_EQ(result.values.size(), left.size());
  ASSERT_EQ(result.found.size(), left.size());
  std::uint64_t wrong = 0;
  for (std::size_t i = 0; i < left.size(); ++i) {
    const auto hit = by_key.find(left[i]);
    const bool expect_found = hit != by_key.end() && (active.empty() || active[i] != 0);
    if (result.found[i] != (expect_found ? 1 : 0)) {
      ++wrong;
      continue;
    }
    const Value expected = expect_found ? hit->second : Value{};
    if (result.values[i].key_id != expected.key_id || result.values[i].payload != expected.payload) ++wrong;
  }
  EXPECT_EQ(comm.allreduce(wrong, ReduceOp::sum), 0U);
  EXPECT_GE(result.report.heavy_keys, expect_heavy_at_least);
}

template <class Keys>
class LookupJoin : public ::testing::Test {};
using KeyTypes = ::testing::Types<std::vector<std::uint64_t>, StringColumn>;
TYPED_TEST_SUITE(LookupJoin, KeyTypes);

JoinOptions with_strategy(JoinStrategy strategy) {
  JoinOptions options;
  options.strategy = strategy;
  return options;
}

TYPED_TEST(LookupJoin, RandomAgainstBruteForceEveryStrategy) {
  for (const JoinStrategy strategy : {JoinStrategy::automatic, JoinStrategy::broadcast_right, JoinStrategy::shuffle}) {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      expect_like_brute_force<TypeParam>({.seed = seed, .mask = seed % 2 == 0}, with_strategy(strategy));
    }
  }
}

TYPED_TEST(LookupJoin, EmptyRanksAndEmptySides) {
  for (const JoinStrategy strategy : {JoinStrategy::broadcast_right, JoinStrategy::shuffle}) {
    expect_like_brute_force<TypeParam>({.seed = 3, .only_rank = 0}, with_strategy(strategy));
    expect_like_brute_force<TypeParam>({.seed = 4, .max_left = 0}, with_strategy(strategy));
    expect_like_brute_force<TypeParam>({.seed = 5, .right_keys = 0}, with_strategy(strategy));
    const int last = Communicator::world().size() - 1;
    expect_like_brute_force<TypeParam>({.seed = 6, .only_rank = last, .mask = true}, with_strategy(strategy));
  }
}

TYPED_TEST(LookupJoin, OneKeyHoldingHalfTheRowsIsHeavy) {
  JoinOptions options = with_strategy(JoinStrategy::shuffle);
  options.heavy_key_share = 0.25;
  const std::uint64_t expect_heavy = Communicator::world().size() > 1 ? 1 : 0;  // one rank: no sample
  expect_like_brute_force<TypeParam>({.seed = 7, .max_left = 2000, .heavy_share = 0.5}, options, expect_heavy);
  expect_like_brute_force<TypeParam>({.seed = 8, .max_left = 2000, .heavy_share = 0.5, .mask = true}, options, expect_heavy);
}

TYPED_TEST(LookupJoin, EveryRowWithOneKey) {
  JoinOptions options = with_strategy(JoinStrategy::shuffle);
  expect_like_brute_force<TypeParam>({.seed = 9, .key_range = 1, .right_keys = 21}, options);
  expect_like_brute_force<TypeParam>({.seed = 10, .heavy_share = 1.0}, options);
}

TYPED_TEST(LookupJoin, TinyBudgetForcesManyRounds) {
  JoinOptions options = with_strategy(JoinStrategy::shuffle);
  options.budget.bytes_per_rank = 256;
  expect_like_brute_force<TypeParam>({.seed = 11, .max_left = 1000, .key_range = 400, .right_keys = 300}, options);
}

TYPED_TEST(LookupJoin, DuplicateRightKeysFailOnEveryRank) {
  const Communicator comm = Communicator::world();
  for (const JoinStrategy strategy : {JoinStrategy::broadcast_right, JoinStrategy::shuffle}) {
    TypeParam left_keys;
    add_key(left_keys, 1);
    JoinSide<Value, TypeParam> right;
    if (comm.rank() == comm.size() - 1) {  // the same key twice, on one rank
      for (int copy = 0; copy < 2; ++copy) {
        right.rows.push_back({.key_id = 5, .payload = 1});
        add_key(right.keys, 5);
      }
    }
    EXPECT_THROW(lookup_join(comm, left_keys, {}, std::move(right), with_strategy(strategy)), std::invalid_argument);
  }
}

TYPED_TEST(LookupJoin, BadInputFailsOnEveryRank) {
  const Communicator comm = Communicator::world();
  TypeParam left_keys;
  add_key(left_keys, 1);
  JoinSide<Value, TypeParam> right;
  if (comm.rank() == 0) right.rows.push_back({.key_id = 1});  // a row without a key
  EXPECT_THROW(lookup_join(comm, left_keys, {}, std::move(right)), std::invalid_argument);
  // A mask of the wrong length on the last rank only (one key, two mask entries).
  const std::vector<std::uint8_t> mask(comm.rank() == comm.size() - 1 ? 2 : 1, 1);
  EXPECT_THROW(lookup_join(comm, left_keys, mask, JoinSide<Value, TypeParam>{}), std::invalid_argument);
}

}  // namespace
}  // namespace omniseg::engine
