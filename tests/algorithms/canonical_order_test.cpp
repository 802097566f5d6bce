// canonical_sort against std::stable_sort with the canonical comparison, on random itemsets of
// mixed sizes (duplicates and empty sets included).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "algorithms/fim/canonical_order.hpp"

namespace omniseg::fim {
namespace {

TEST(CanonicalSort, EqualsAStableSortBySizeThenLexicographically) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 60; ++round) {
    // Small universes sort packed keys; a universe of 2^22 makes rows of 7+ items too wide for
    // 128-bit keys and takes the comparison path.
    const ItemPosition universe = round % 3 == 2 ? (1u << 22) : 1 + static_cast<ItemPosition>(rng() % 40);
    ItemsetList<ItemPosition> input;
    const int count = static_cast<int>(rng() % 500);
    for (int i = 0; i < count; ++i) {
      std::vector<ItemPosition> set;
      const std::size_t size = rng() % std::min<std::size_t>(universe + 1, 10);
      while (set.size() < size) {
        // Few distinct values per position, so that large-universe rows share prefixes too.
        const auto item = static_cast<ItemPosition>(universe > 100 ? (rng() % 8) * (universe / 8) + set.size()
                                                                   : rng() % universe);
        if (std::find(set.begin(), set.end(), item) == set.end()) set.push_back(item);
      }
      std::sort(set.begin(), set.end());
      input.add(set, rng() % 1000);
    }
    std::vector<std::size_t> index(input.size());
    std::iota(index.begin(), index.end(), std::size_t{0});
    std::stable_sort(index.begin(), index.end(), [&](std::size_t a, std::size_t b) {
      const auto x = input.sets[a], y = input.sets[b];
      if (x.size() != y.size()) return x.size() < y.size();
      return std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end());
    });
    const auto sorted = canonical_sort(input, universe);
    ASSERT_EQ(sorted.size(), input.size());
    for (std::size_t i = 0; i < index.size(); ++i) {
      const auto expected = input.sets[index[i]];
      const auto got = sorted.sets[i];
      ASSERT_TRUE(std::equal(expected.begin(), expected.end(), got.begin(), got.end())) << "round " << round << " row " << i;
      // Equal sets may carry different supports only in made-up data; the sort must be stable.
      ASSERT_EQ(sorted.support[i], input.support[index[i]]) << "round " << round << " row " << i;
    }
  }
}

}  // namespace
}  // namespace omniseg::fim
