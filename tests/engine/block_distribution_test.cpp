// BlockDistribution against the properties a block distribution must have, checked by brute
// force for every rows/parts pair up to 60 x 9 (n divisible or not by P, n < P, n = 0).
#include <gtest/gtest.h>

#include "engine/block_distribution.hpp"

namespace omniseg::engine {
namespace {

TEST(BlockDistribution, ContiguousBalancedCoveringAndConsistentWithOwner) {
  for (std::uint64_t rows = 0; rows <= 60; ++rows) {
    for (int parts = 1; parts <= 9; ++parts) {
      const BlockDistribution dist(rows, parts);
      std::uint64_t next = 0, smallest = rows, largest = 0;
      for (int part = 0; part < parts; ++part) {
        const RowRange range = dist.range(part);
        ASSERT_EQ(range.begin, next) << rows << " rows, " << parts << " parts: gap or overlap at part " << part;
        ASSERT_LE(range.begin, range.end);
        if (part > 0) {
          ASSERT_LE(range.size(), dist.range(part - 1).size()) << "larger parts come first";
        }
        smallest = std::min(smallest, range.size());
        largest = std::max(largest, range.size());
        for (std::uint64_t row = range.begin; row < range.end; ++row) ASSERT_EQ(dist.owner(row), part);
        next = range.end;
      }
      EXPECT_EQ(next, rows) << "every row is owned";
      EXPECT_LE(largest - smallest, 1u) << rows << " rows, " << parts << " parts";
    }
  }
}

TEST(BlockDistribution, FewerRowsThanParts) {
  const BlockDistribution dist(2, 4);
  EXPECT_EQ(dist.range(0), (RowRange{0, 1}));
  EXPECT_EQ(dist.range(1), (RowRange{1, 2}));
  EXPECT_EQ(dist.range(2).size(), 0u);
  EXPECT_EQ(dist.range(3).size(), 0u);
}

TEST(BlockDistribution, HugeRowCountsDoNotOverflow) {
  const std::uint64_t rows = (1ULL << 62) + 3;
  const BlockDistribution dist(rows, 7);
  EXPECT_EQ(dist.range(6).end, rows);
  EXPECT_EQ(dist.owner(rows - 1), 6);
  EXPECT_EQ(dist.owner(0), 0);
  EXPECT_EQ(dist.owner(dist.range(3).begin), 3);
}

TEST(BlockDistribution, RejectsBadArguments) {
  EXPECT_THROW(BlockDistribution(10, 0), std::invalid_argument);
  const BlockDistribution dist(10, 3);
  EXPECT_THROW((void)dist.owner(10), std::out_of_range);
  EXPECT_THROW((void)dist.range(3), std::out_of_range);
  EXPECT_THROW((void)dist.range(-1), std::out_of_range);
}

}  // namespace
}  // namespace omniseg::engine
