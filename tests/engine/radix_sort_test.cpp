// The radix sort against std::stable_sort: random keys, keys that share most of their bytes (the
// skipped digits), keys that differ only in the top byte, signed ids through sortable_bits, ties
// (stability), tiny inputs, and a scratch buffer reused across sorts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/radix_sort.hpp"

namespace omniseg::engine {
namespace {

struct Record {
  std::uint64_t key = 0;
  std::uint32_t position = 0;  // where the record started: checks stability
  std::uint32_t pad = 0;
};

void expect_sorts_like_stable_sort(std::vector<Record> records, std::vector<Record>& scratch) {
  for (std::uint32_t i = 0; i < records.size(); ++i) records[i].position = i;
  std::vector<Record> expected = records;
  std::stable_sort(expected.begin(), expected.end(), [](const Record& a, const Record& b) { return a.key < b.key; });
  radix_sort(records, scratch, [](const Record& r) { return r.key; });
  ASSERT_EQ(records.size(), expected.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].key, expected[i].key) << i;
    ASSERT_EQ(records[i].position, expected[i].position) << i;
  }
}

TEST(RadixSort, EqualsStableSortOnManyKeyShapes) {
  std::mt19937_64 random(5);
  std::vector<Record> scratch;  // reused by every sort
  const std::vector<std::uint64_t> masks = {~std::uint64_t{0}, 0xff, 0xffff00, 0xff00000000000000ULL, 0x0f0f0f0f0f0f0f0fULL, 0x3};
  for (const std::uint64_t mask : masks) {
    for (const std::size_t n : {0UL, 1UL, 2UL, 3UL, 17UL, 256UL, 1000UL, 70000UL}) {
      std::vector<Record> records(n);
      const std::uint64_t common = random() & ~mask;  // the bytes every key shares
      for (auto& r : records) r.key = common | (random() & mask);
      expect_sorts_like_stable_sort(records, scratch);
    }
  }
}

TEST(RadixSort, SortedReversedAndAllEqualInputs) {
  std::vector<Record> scratch;
  std::vector<Record> ascending(5000), descending(5000), equal(5000);
  for (std::size_t i = 0; i < ascending.size(); ++i) {
    ascending[i].key = i * 977;
    descending[i].key = std::numeric_limits<std::uint64_t>::max() - i * 131;
    equal[i].key = 42;
  }
  expect_sorts_like_stable_sort(ascending, scratch);
  expect_sorts_like_stable_sort(descending, scratch);
  expect_sorts_like_stable_sort(equal, scratch);
}

TEST(RadixSort, SortableBitsOrderSignedValues) {
  std::mt19937_64 random(9);
  std::vector<std::int64_t> values = {std::numeric_limits<std::int64_t>::min(), -1, 0, 1,
                                      std::numeric_limits<std::int64_t>::max(), -1000000, 1000000};
  for (int i = 0; i < 20000; ++i) values.push_back(static_cast<std::int64_t>(random()) >> (random() % 64));
  std::vector<std::uint64_t> keys, scratch;
  for (const std::int64_t v : values) keys.push_back(sortable_bits(v));
  radix_sort(keys, scratch);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(keys.size(), values.size());
  for (std::size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(keys[i], sortable_bits(values[i])) << i;
}

TEST(RadixSort, WideKeysSortByLowPartThenHighPart) {
  // A 128-bit key (high, low): stable sort by low, then by high — the LSD order of two sorts.
  struct Wide {
    std::uint64_t high = 0, low = 0;
  };
  std::mt19937_64 random(3);
  std::vector<Wide> records(20000), scratch;
  for (auto& r : records) r = {.high = random() % 50, .low = random()};
  std::vector<Wide> expected = records;
  std::sort(expected.begin(), expected.end(),
            [](const Wide& a, const Wide& b) { return a.high != b.high ? a.high < b.high : a.low < b.low; });
  radix_sort(records, scratch, [](const Wide& w) { return w.low; });
  radix_sort(records, scratch, [](const Wide& w) { return w.high; });
  for (std::size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].high, expected[i].high);
    ASSERT_EQ(records[i].low, expected[i].low);
  }
}

}  // namespace
}  // namespace omniseg::engine
