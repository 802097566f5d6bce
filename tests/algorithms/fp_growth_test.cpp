// FP-growth against brute force: every subset of the item universe counted directly, on random
// transaction sets of several densities, with size limits, seed ranges and PFP-style prefix shards.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "algorithms/fim/fp_growth.hpp"

namespace omniseg::fim {
namespace {

using Itemsets = std::map<std::vector<ItemRank>, std::uint64_t>;

RankedTransactions random_transactions(std::mt19937_64& rng, int count, int universe, double density) {
  RankedTransactions transactions;
  std::bernoulli_distribution take(density);
  std::vector<ItemRank> items;
  for (int t = 0; t < count; ++t) {
    items.clear();
    for (int item = 0; item < universe; ++item) {
      // Lower ranks more often, as in a frequency order.
      if (take(rng) || (item < universe / 3 && take(rng))) items.push_back(static_cast<ItemRank>(item));
    }
    transactions.push_back(items);
  }
  return transactions;
}

/// Every non-empty subset of [0, universe) with its support, kept if frequent and within limits.
Itemsets brute_force(const RankedTransactions& transactions, int universe, const MiningLimits& limits,
                     const SeedRange& seeds = {}) {
  Itemsets result;
  for (std::uint32_t mask = 1; mask < (1u << universe); ++mask) {
    std::vector<ItemRank> set;
    for (int item = 0; item < universe; ++item) {
      if (mask & (1u << item)) set.push_back(static_cast<ItemRank>(item));
    }
    if (limits.max_size != 0 && set.size() > limits.max_size) continue;
    if (set.back() < seeds.first || set.back() > seeds.last) continue;
    std::uint64_t support = 0;
    for (std::size_t t = 0; t < transactions.size(); ++t) {
      const auto tx = transactions[t];
      support += std::includes(tx.begin(), tx.end(), set.begin(), set.end()) ? 1 : 0;
    }
    if (support >= limits.min_support) result[set] = support;
  }
  return result;
}

Itemsets as_map(const ItemsetList<ItemRank>& list) {
  Itemsets result;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto set = list.sets[i];
    EXPECT_TRUE(std::is_sorted(set.begin(), set.end()));
    const bool inserted = result.emplace(std::vector<ItemRank>(set.begin(), set.end()), list.support[i]).second;
    EXPECT_TRUE(inserted) << "an itemset was reported twice";
  }
  return result;
}

Itemsets mine(const RankedTransactions& transactions, const MiningLimits& limits, const SeedRange& seeds = {}) {
  ItemsetList<ItemRank> out;
  fp_growth(transactions, limits, seeds, out);
  return as_map(out);
}

TEST(FpGrowth, MatchesBruteForceOnRandomData) {
  std::mt19937_64 rng(20261124);
  for (int round = 0; round < 60; ++round) {
    const int universe = 4 + round % 9;
    const double density = 0.1 + 0.08 * (round % 10);
    const auto transactions = random_transactions(rng, 5 + round % 40, universe, density);
    for (std::uint64_t support : {1, 2, 3, 7}) {
      for (std::uint32_t max_size : {0u, 1u, 2u, 4u}) {
        const MiningLimits limits{.min_support = support, .max_size = max_size};
        EXPECT_EQ(mine(transactions, limits), brute_force(transactions, universe, limits))
            << "round " << round << " support " << support << " max size " << max_size;
      }
    }
  }
}

TEST(FpGrowth, SeedsSelectItemsetsByTheirLeastFrequentItem) {
  std::mt19937_64 rng(7);
  const int universe = 10;
  const auto transactions = random_transactions(rng, 40, universe, 0.4);
  const MiningLimits limits{.min_support = 3};
  for (ItemRank first = 0; first < universe; first += 3) {
    const SeedRange seeds{first, first + 2};
    EXPECT_EQ(mine(transactions, limits, seeds), brute_force(transactions, universe, limits, seeds));
  }
}

TEST(FpGrowth, PrefixShardsAsInPfpGiveTheSameSetsAsTheWhole) {
  // Groups of consecutive ranks; each group's shard holds, of every transaction, the prefix up to
  // the last item of that group.
  std::mt19937_64 rng(11);
  const int universe = 12;
  const auto transactions = random_transactions(rng, 60, universe, 0.35);
  const MiningLimits limits{.min_support = 4};
  Itemsets from_shards;
  for (ItemRank first = 0; first < universe; first += 4) {
    const ItemRank last = first + 3;
    RankedTransactions shard;
    for (std::size_t t = 0; t < transactions.size(); ++t) {
      const auto tx = transactions[t];
      std::size_t end = tx.size();
      while (end > 0 && tx[end - 1] > last) --end;
      if (end > 0 && tx[end - 1] >= first) shard.push_back(tx.subspan(0, end));
    }
    const auto part = mine(shard, limits, {first, last});
    from_shards.insert(part.begin(), part.end());
  }
  EXPECT_EQ(from_shards, brute_force(transactions, universe, limits));
}

TEST(FpGrowth, EdgeCases) {
  const MiningLimits limits{.min_support = 1};
  EXPECT_TRUE(mine(RankedTransactions{}, limits).empty());
  RankedTransactions empty_transactions;
  empty_transactions.push_back({});
  empty_transactions.push_back({});
  EXPECT_TRUE(mine(empty_transactions, limits).empty());
  // One transaction: a single path; every subset has support 1.
  RankedTransactions one;
  const std::vector<ItemRank> items{0, 1, 2, 3, 4};
  one.push_back(items);
  EXPECT_EQ(mine(one, limits).size(), 31u);
  EXPECT_TRUE(mine(one, {.min_support = 2}).empty());
  // Identical transactions.
  RankedTransactions same;
  for (int i = 0; i < 5; ++i) same.push_back(items);
  const auto all = mine(same, {.min_support = 5});
  EXPECT_EQ(all.size(), 31u);
  for (const auto& [set, support] : all) EXPECT_EQ(support, 5u);
}

}  // namespace
}  // namespace omniseg::fim
