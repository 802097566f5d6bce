// The single-rank rule kernel: metrics against hand-computed values, level-wise consequent growth
// against brute force under anti-monotone confidence, itemset splits, and the itemset hash table.
// Needs no communicator (it links into the fim_rules MPI binary only to share its registration).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "algorithms/rules/rule_kernel.hpp"

namespace omniseg::rules {
namespace {

std::vector<std::vector<ItemPosition>> as_vectors(const Consequents& sets) {
  std::vector<std::vector<ItemPosition>> result;
  for (std::size_t i = 0; i < sets.size(); ++i) result.emplace_back(sets[i].begin(), sets[i].end());
  return result;
}

Consequents from_vectors(const std::vector<std::vector<ItemPosition>>& sets) {
  Consequents result;
  for (const auto& set : sets) result.push_back(set);
  return result;
}

TEST(RuleKernel, MetricsFromExactSupports) {
  // Powers of two: every operation is exact.
  const auto exact = rule_metrics({.itemset = 2, .antecedent = 4, .consequent = 8, .transactions = 16});
  EXPECT_EQ(exact, (RuleMetrics{.support = 0.125, .confidence = 0.5, .lift = 1.0, .leverage = 0.0}));
  // Rounded values equal the same IEEE operations written out.
  const auto rounded = rule_metrics({.itemset = 3, .antecedent = 10, .consequent = 5, .transactions = 20});
  EXPECT_EQ(rounded.support, 3.0 / 20.0);
  EXPECT_EQ(rounded.confidence, 0.3);  // 3/10 rounds to the double nearest 0.3, as "0.3" parses
  EXPECT_EQ(rounded.lift, (3.0 / 10.0) / (5.0 / 20.0));
  EXPECT_DOUBLE_EQ(rounded.leverage, 0.15 - 0.5 * 0.25);
  EXPECT_EQ(rule_confidence(3, 10), rounded.confidence);
  // Negative leverage and lift below 1: X and Y repel.
  const auto repel = rule_metrics({.itemset = 1, .antecedent = 8, .consequent = 8, .transactions = 16});
  EXPECT_EQ(repel.lift, 0.25);
  EXPECT_EQ(repel.leverage, 1.0 / 16 - 0.25);
}

TEST(RuleKernel, ConfidenceNeverRisesWithTheAntecedentSupport) {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 100000; ++trial) {
    const std::uint64_t itemset = 1 + rng() % (std::uint64_t{1} << 40);
    const std::uint64_t antecedent = itemset + rng() % (std::uint64_t{1} << (rng() % 50));
    EXPECT_GE(rule_confidence(itemset, antecedent), rule_confidence(itemset, antecedent + 1 + rng() % 1000));
  }
}

TEST(RuleKernel, ConsequentLevels) {
  EXPECT_EQ(as_vectors(first_level_consequents(3)), (std::vector<std::vector<ItemPosition>>{{0}, {1}, {2}}));
  EXPECT_TRUE(first_level_consequents(0).empty());
  EXPECT_EQ(as_vectors(next_level_consequents(from_vectors({{0}, {1}, {3}}))),
            (std::vector<std::vector<ItemPosition>>{{0, 1}, {0, 3}, {1, 3}}));
  // {1, 2, 3} needs {2, 3}, which is missing; {0, 1, 3} needs {0, 3}.
  EXPECT_EQ(as_vectors(next_level_consequents(from_vectors({{0, 1}, {0, 2}, {1, 2}, {1, 3}}))),
            (std::vector<std::vector<ItemPosition>>{{0, 1, 2}}));
  EXPECT_TRUE(next_level_consequents(from_vectors({{4}})).empty());
  EXPECT_TRUE(next_level_consequents(Consequents{}).empty());
}

/// Level-wise growth from the singletons, keeping what `confident` accepts at each level.
std::set<std::vector<ItemPosition>> grow_levelwise(std::size_t size, auto confident) {
  std::set<std::vector<ItemPosition>> found;
  Consequents level = first_level_consequents(size);
  while (!level.empty()) {
    Consequents kept;
    for (std::size_t i = 0; i < level.size(); ++i) {
      const std::vector<ItemPosition> set(level[i].begin(), level[i].end());
      if (!confident(set)) continue;
      EXPECT_TRUE(found.insert(set).second) << "a consequent was generated twice";
      kept.push_back(set);
    }
    if (kept.empty() || kept[0].size() + 1 >= size) break;
    level = next_level_consequents(kept);
  }
  return found;
}

TEST(RuleKernel, LevelwiseGrowthFindsExactlyTheConfidentConsequents) {
  // Confidence falls as the consequent grows: model it as "weight of Y stays within a budget",
  // which is anti-monotone like sup(Z) / sup(Z \ Y). Growth must find every accepted proper subset.
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t size = 2 + rng() % 9;
    std::vector<int> weight(size);
    for (int& w : weight) w = 1 + static_cast<int>(rng() % 10);
    const int budget = static_cast<int>(rng() % 40);
    const auto confident = [&](const std::vector<ItemPosition>& set) {
      int total = 0;
      for (const ItemPosition p : set) total += weight[p];
      return total <= budget;
    };
    std::set<std::vector<ItemPosition>> expected;
    for (std::uint64_t mask = 1; mask + 1 < (std::uint64_t{1} << size); ++mask) {
      std::vector<ItemPosition> set;
      for (std::size_t p = 0; p < size; ++p) {
        if (mask >> p & 1) set.push_back(static_cast<ItemPosition>(p));
      }
      if (confident(set)) expected.insert(set);
    }
    ASSERT_EQ(grow_levelwise(size, confident), expected) << "trial " << trial;
  }
}

TEST(RuleKernel, SplitItemset) {
  const std::vector<ItemId> itemset{3, 7, 11, 40};
  std::vector<ItemId> antecedent{99}, consequent{98};
  const std::vector<ItemPosition> positions{1, 3};
  split_itemset(itemset, positions, antecedent, consequent);
  EXPECT_EQ(antecedent, (std::vector<ItemId>{3, 11}));
  EXPECT_EQ(consequent, (std::vector<ItemId>{7, 40}));
  split_itemset(itemset, std::vector<ItemPosition>{0, 1, 2, 3}, antecedent, consequent);
  EXPECT_TRUE(antecedent.empty());
  EXPECT_EQ(consequent, itemset);
}

TEST(RuleKernel, ItemsetHashSeesOrderAndLength) {
  const std::vector<ItemId> ab{1, 2}, ba{2, 1}, a{1}, a0{1, 0}, empty;
  EXPECT_NE(itemset_hash(ab), itemset_hash(ba));
  EXPECT_NE(itemset_hash(a), itemset_hash(a0));
  EXPECT_NE(itemset_hash(empty), itemset_hash(std::vector<ItemId>{0}));
  EXPECT_EQ(itemset_hash(ab), itemset_hash(std::vector<ItemId>{1, 2}));
}

TEST(RuleKernel, ItemsetTable) {
  ItemsetTable table;
  const std::vector<ItemId> a{5}, b{5, 9};
  EXPECT_EQ(table.find(a), ItemsetTable::not_found);
  EXPECT_EQ(table.insert(a), 0u);
  EXPECT_EQ(table.insert(b), 1u);
  EXPECT_EQ(table.insert(a), 0u);  // again: same id
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(b), 1u);
  EXPECT_TRUE(std::ranges::equal(table[1], b));
  EXPECT_EQ(table.hash(1), itemset_hash(b));
  // Many sets, with growth; ids are insertion order.
  std::mt19937_64 rng(5);
  std::vector<std::vector<ItemId>> sets;
  for (int i = 0; i < 20000; ++i) {
    std::vector<ItemId> set(1 + rng() % 4);
    for (ItemId& item : set) item = rng() % 50;
    sets.push_back(set);
  }
  ItemsetTable many;
  std::map<std::vector<ItemId>, std::uint64_t> reference;
  for (const auto& set : sets) {
    const auto [at, inserted] = reference.emplace(set, reference.size());
    EXPECT_EQ(many.insert(set), at->second);
  }
  EXPECT_EQ(many.size(), reference.size());
  for (const auto& [set, id] : reference) EXPECT_EQ(many.find(set), id);
  many.clear();
  EXPECT_EQ(many.size(), 0u);
  EXPECT_EQ(many.find(sets[0]), ItemsetTable::not_found);
  EXPECT_EQ(many.insert(sets[1]), 0u);
}

}  // namespace
}  // namespace omniseg::rules
