// PFP at 1-4 ranks against brute force on the whole data: the concatenation of every rank's block
// must be exactly the canonical list (same sets, supports and order) — hence the same for any
// rank count — with empty ranks, skewed placement, sparse large item ids and size limits.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "algorithms/fim/pfp.hpp"
#include "engine/block_distribution.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::fim {
namespace {

using engine::BlockDistribution;

struct Itemset {
  std::vector<ItemId> items;
  std::uint64_t support;
  friend bool operator==(const Itemset&, const Itemset&) = default;
};

/// The same random transactions on every rank (ids spread out and large, to exercise recoding).
std::vector<std::vector<ItemId>> random_data(std::uint64_t seed, int count, int universe, double density) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution take(density);
  std::vector<std::vector<ItemId>> data(static_cast<std::size_t>(count));
  for (auto& tx : data) {
    for (int item = 0; item < universe; ++item) {
      if (take(rng) || (item % 3 == 0 && take(rng))) tx.push_back(ItemId{1} << 40 | static_cast<ItemId>(item * 7919));
    }
  }
  return data;
}

std::vector<Itemset> brute_force(const std::vector<std::vector<ItemId>>& data, const MiningLimits& limits) {
  std::vector<ItemId> universe;
  for (const auto& tx : data) universe.insert(universe.end(), tx.begin(), tx.end());
  std::sort(universe.begin(), universe.end());
  universe.erase(std::unique(universe.begin(), universe.end()), universe.end());
  std::vector<Itemset> result;
  for (std::uint64_t mask = 1; mask < (std::uint64_t{1} << universe.size()); ++mask) {
    std::vector<ItemId> set;
    for (std::size_t i = 0; i < universe.size(); ++i) {
      if (mask >> i & 1) set.push_back(universe[i]);
    }
    if (limits.max_size != 0 && set.size() > limits.max_size) continue;
    std::uint64_t support = 0;
    for (const auto& tx : data) support += std::includes(tx.begin(), tx.end(), set.begin(), set.end()) ? 1 : 0;
    if (support >= limits.min_support) result.push_back({set, support});
  }
  std::sort(result.begin(), result.end(),
            [](const Itemset& a, const Itemset& b) { return canonical_less(a.items, b.items); });
  return result;
}

/// Runs PFP with this rank holding transactions [begin, end) of `data`; returns the gathered list.
std::vector<Itemset> mine_distributed(const std::vector<std::vector<ItemId>>& data, std::uint64_t begin,
                                      std::uint64_t end, const MiningLimits& limits, FrequentItemsets* facts = nullptr) {
  const auto& comm = testing::world();
  SetList<ItemId> local;
  for (std::uint64_t t = begin; t < end; ++t) local.push_back(data[t]);
  engine::PhaseTimers timers(comm);
  const auto mined = mine_frequent_itemsets(comm, local, {.limits = limits, .groups_per_rank = 3}, timers);
  EXPECT_EQ(mined.first_index, comm.exclusive_prefix_sum(mined.local.size()));
  // Flatten [size, support, items...] and gather in rank order.
  std::vector<std::uint64_t> flat;
  for (std::size_t i = 0; i < mined.local.size(); ++i) {
    flat.push_back(mined.local.sets[i].size());
    flat.push_back(mined.local.support[i]);
    flat.insert(flat.end(), mined.local.sets[i].begin(), mined.local.sets[i].end());
  }
  const auto all = comm.allgatherv(flat).data;
  std::vector<Itemset> result;
  for (std::size_t at = 0; at < all.size(); at += 2 + all[at]) {
    result.push_back({std::vector<ItemId>(all.begin() + static_cast<std::ptrdiff_t>(at + 2),
                                          all.begin() + static_cast<std::ptrdiff_t>(at + 2 + all[at])),
                      all[at + 1]});
  }
  EXPECT_EQ(mined.total, result.size());
  if (facts) *facts = mined;
  return result;
}

TEST(Pfp, EqualsBruteForceForBlockDistributedData) {
  const auto& comm = testing::world();
  for (int round = 0; round < 12; ++round) {
    const auto data = random_data(100 + round, 10 + 7 * round, 6 + round % 7, 0.15 + 0.05 * (round % 6));
    const auto range = BlockDistribution(data.size(), comm.size()).range(comm.rank());
    for (std::uint64_t support : {1, 2, 5}) {
      for (std::uint32_t max_size : {0u, 2u}) {
        const MiningLimits limits{.min_support = support, .max_size = max_size};
        FrequentItemsets facts;
        const auto mined = mine_distributed(data, range.begin, range.end, limits, &facts);
        const auto expected = brute_force(data, limits);
        ASSERT_EQ(mined, expected) << "round " << round << " support " << support << " max size " << max_size;
        EXPECT_EQ(facts.transactions, data.size());
        std::vector<std::uint64_t> by_size;
        for (const auto& set : expected) {
          if (by_size.size() < set.items.size()) by_size.resize(set.items.size());
          ++by_size[set.items.size() - 1];
        }
        EXPECT_EQ(facts.by_size, by_size);
      }
    }
  }
}

TEST(Pfp, AllTransactionsOnOneRankAndEmptyRanks) {
  const auto& comm = testing::world();
  const auto data = random_data(5, 40, 9, 0.3);
  const std::uint64_t last = static_cast<std::uint64_t>(comm.size() - 1);
  // Everything on the last rank; the others hold nothing.
  const auto mined = mine_distributed(data, comm.rank() == static_cast<int>(last) ? 0 : data.size(), data.size(),
                                      {.min_support = 3});
  EXPECT_EQ(mined, brute_force(data, {.min_support = 3}));
}

TEST(Pfp, FewerTransactionsThanRanksAndNothingFrequent) {
  const auto& comm = testing::world();
  const std::vector<std::vector<ItemId>> data{{1, 2, 3}, {2, 3}};
  const auto range = BlockDistribution(data.size(), comm.size()).range(comm.rank());
  EXPECT_EQ(mine_distributed(data, range.begin, range.end, {.min_support = 2}),
            (std::vector<Itemset>{{{2}, 2}, {{3}, 2}, {{2, 3}, 2}}));
  EXPECT_TRUE(mine_distributed(data, range.begin, range.end, {.min_support = 3}).empty());
  const std::vector<std::vector<ItemId>> nothing;
  EXPECT_TRUE(mine_distributed(nothing, 0, 0, {.min_support = 1}).empty());
}

}  // namespace
}  // namespace omniseg::fim
