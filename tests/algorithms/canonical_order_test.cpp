// canonical_sort and RowSorter against std::stable_sort with the canonical comparison, on random
// itemsets of mixed sizes (duplicates and empty sets included): small runs (insertion sort), large
// runs (radix passes), and rows longer than one 128-bit key (the next window decides).
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

/// Random rows of one size k, ascending, drawn so that many share long prefixes: item j is one of
/// `choices` values near j * universe / k.
std::vector<std::vector<ItemPosition>> shared_prefix_rows(std::mt19937_64& rng, std::size_t count, std::size_t k,
                                                         ItemPosition universe, unsigned choices) {
  std::vector<std::vector<ItemPosition>> rows;
  const ItemPosition stride = universe / static_cast<ItemPosition>(k);
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<ItemPosition> row(k);
    for (std::size_t j = 0; j < k; ++j) row[j] = static_cast<ItemPosition>(j * stride + rng() % choices);
    rows.push_back(row);
  }
  return rows;
}

TEST(RowSorter, LargeRunsAndLongRowsAcrossBlocksAreSortedStably) {
  std::mt19937_64 rng(7);
  struct Case {
    std::size_t k, count;
    ItemPosition universe;
    unsigned choices;
  };
  // k = 40 with a universe of 2^20: 6 items per key, so rows span 7 windows; few choices make
  // thousands of equal first items (radix passes) and equal windows (the next window decides);
  // k = 1 and 2 are the edge of the first-item sort.
  for (const Case c : {Case{40, 6000, 1u << 20, 2}, Case{12, 20000, 5000, 3}, Case{5, 30000, 64, 4},
                       Case{2, 5000, 1000, 40}, Case{1, 3000, 50, 50}, Case{25, 4000, 1u << 16, 1}}) {
    const auto rows = shared_prefix_rows(rng, c.count, c.k, c.universe, c.choices);
    // Spread over blocks of uneven sizes, as SizeBins and received rounds hand them over.
    std::vector<RowBlock> blocks;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (blocks.empty() || rng() % 1000 == 0) blocks.push_back({.k = c.k, .items = {}, .support = {}});
      blocks.back().items.insert(blocks.back().items.end(), rows[i].begin(), rows[i].end());
      blocks.back().support.push_back(i);  // the input index: checks stability among equal rows
    }
    std::vector<std::size_t> expected(rows.size());
    std::iota(expected.begin(), expected.end(), std::size_t{0});
    std::stable_sort(expected.begin(), expected.end(), [&](std::size_t a, std::size_t b) { return rows[a] < rows[b]; });
    RowSorter sorter(c.universe);
    for (int repeat = 0; repeat < 2; ++repeat) {  // buffers kept from the first call must not leak into the second
      const RowBlock& sorted = sorter.sort(blocks);
      ASSERT_EQ(sorted.rows(), rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto row = sorted.row(i);
        ASSERT_TRUE(std::equal(row.begin(), row.end(), rows[expected[i]].begin(), rows[expected[i]].end()))
            << "k " << c.k << " row " << i;
        ASSERT_EQ(sorted.support[i], expected[i]) << "k " << c.k << " row " << i;
      }
    }
  }
}

TEST(SizeBins, KeepsEveryItemsetBySizeInArrivalOrderAcrossBlocks) {
  SizeBins bins;
  std::mt19937_64 rng(3);
  std::vector<std::vector<std::vector<ItemPosition>>> expected(6);
  for (std::uint64_t i = 0; i < 1200000; ++i) {  // enough for several 1 MiB blocks of every size
    const std::size_t k = rng() % 6;
    std::vector<ItemPosition> set(k);
    for (std::size_t j = 0; j < k; ++j) set[j] = static_cast<ItemPosition>(j * 100 + rng() % 100);
    bins.add(set, i);
    expected[k].push_back(set);
  }
  ASSERT_EQ(bins.size_limit(), 6u);
  EXPECT_EQ(bins.itemsets(), 1200000u);
  for (std::size_t k = 0; k < 6; ++k) {
    ASSERT_EQ(bins.rows(k), expected[k].size());
    EXPECT_GT(bins.blocks(k).size(), 1u) << "size " << k;
    std::size_t row = 0;
    std::uint64_t previous_support = 0;
    for (const RowBlock& block : bins.blocks(k)) {
      ASSERT_EQ(block.k, k);
      for (std::size_t i = 0; i < block.rows(); ++i, ++row) {
        const auto got = block.row(i);
        ASSERT_TRUE(std::equal(got.begin(), got.end(), expected[k][row].begin(), expected[k][row].end()));
        if (row > 0) {
          ASSERT_GT(block.support[i], previous_support);  // arrival order
        }
        previous_support = block.support[i];
      }
    }
  }
  bins.release(3);
  EXPECT_EQ(bins.rows(3), 0u);
  EXPECT_EQ(bins.rows(4), expected[4].size());
}

}  // namespace
}  // namespace omniseg::fim
