// io/verified_datasets.hpp's checksum kernel: the same value for any split of the rows, and a
// different one when rows are swapped, shifted, changed or cut.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "io/verified_datasets.hpp"

namespace omniseg::io {
namespace {

std::vector<double> random_rows(std::size_t rows, std::size_t columns) {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> value(-1e6, 1e6);
  std::vector<double> values(rows * columns);
  for (double& v : values) v = value(random);
  return values;
}

std::uint64_t checksum_of(std::span<const double> values, std::size_t columns, std::uint64_t first_row = 0) {
  return local_row_checksum(std::as_bytes(values), columns * sizeof(double), first_row);
}

TEST(RowChecksum, AnySplitOfTheRowsSumsToTheWholeChecksum) {
  const std::size_t rows = 1000, columns = 3;
  const auto values = random_rows(rows, columns);
  const std::span<const double> all(values);
  const std::uint64_t whole = checksum_of(all, columns);
  for (const std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{499}, rows}) {
    const std::uint64_t parts =
        checksum_of(all.first(cut * columns), columns, 0) + checksum_of(all.subspan(cut * columns), columns, cut);
    EXPECT_EQ(parts, whole) << "cut at row " << cut;
  }
}

TEST(RowChecksum, SwappedShiftedChangedOrMissingRowsChangeIt) {
  const std::size_t rows = 200, columns = 2;
  const auto values = random_rows(rows, columns);
  const std::uint64_t original = checksum_of(values, columns);

  auto swapped = values;
  std::swap_ranges(swapped.begin(), swapped.begin() + columns, swapped.begin() + 7 * columns);
  EXPECT_NE(checksum_of(swapped, columns), original);
  EXPECT_NE(checksum_of(values, columns, 1), original);  // every row one place later

  auto flipped = values;
  reinterpret_cast<unsigned char*>(flipped.data())[333] ^= 0x01;  // one bit
  EXPECT_NE(checksum_of(flipped, columns), original);

  EXPECT_NE(checksum_of(std::span<const double>(values).first((rows - 1) * columns), columns), original);
}

TEST(RowChecksum, RowsOfAnyWidthAndStrings) {
  const std::vector<std::uint32_t> narrow{1, 2, 3, 4, 5};
  const auto bytes = std::as_bytes(std::span<const std::uint32_t>(narrow));
  EXPECT_EQ(local_row_checksum(bytes.first(8), 4, 0) + local_row_checksum(bytes.subspan(8), 4, 2),
            local_row_checksum(bytes, 4, 0));
  EXPECT_NE(local_row_checksum(bytes, 4, 0), local_row_checksum(bytes, 20, 0));  // one wide row is another thing
  const std::vector<std::string> strings{"web", "app", "store"}, reordered{"app", "web", "store"};
  EXPECT_NE(local_strings_checksum(strings, 0), local_strings_checksum(reordered, 0));
  EXPECT_EQ(checksum_text(0xdeadbeef), "xsum64v2:00000000deadbeef");
}

}  // namespace
}  // namespace omniseg::io
