// sort_into_blocks at 1-4 ranks: the concatenation of the blocks is the sorted list of every rank's
// records and the blocks follow the block distribution, with empty ranks, everything on one rank,
// fewer records than ranks, heavy key duplication (ties broken by a payload) and one sample per rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "engine/block_distribution.hpp"
#include "engine/distributed_sort.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::engine {
namespace {

struct Record {
  std::uint64_t key;
  std::uint64_t payload;  ///< unique: makes (key, payload) a strict total order
  friend bool operator==(const Record&, const Record&) = default;
};

bool record_less(const Record& a, const Record& b) {
  return a.key != b.key ? a.key < b.key : a.payload < b.payload;
}

/// Every rank's records (the same on every rank), rank r's at index r.
std::vector<std::vector<Record>> random_shards(std::uint64_t seed, int ranks, std::uint64_t max_count,
                                               std::uint64_t key_range) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<Record>> shards(static_cast<std::size_t>(ranks));
  std::uint64_t payload = 0;
  for (auto& shard : shards) {
    const std::uint64_t count = max_count == 0 ? 0 : rng() % (max_count + 1);
    for (std::uint64_t i = 0; i < count; ++i) shard.push_back({rng() % key_range, payload++});
  }
  return shards;
}

void expect_sorted_blocks(const std::vector<std::vector<Record>>& shards,
                          std::uint64_t samples_per_rank = 0) {
  const auto& comm = testing::world();
  const auto mine =
      sort_into_blocks(comm, shards[static_cast<std::size_t>(comm.rank())], record_less, samples_per_rank);
  std::vector<Record> expected;
  for (const auto& shard : shards) expected.insert(expected.end(), shard.begin(), shard.end());
  std::sort(expected.begin(), expected.end(), record_less);
  EXPECT_EQ(mine.size(), BlockDistribution(expected.size(), comm.size()).range(comm.rank()).size());
  EXPECT_EQ(comm.allgatherv(mine).data, expected);
}

TEST(DistributedSort, RandomShards) {
  const auto& comm = testing::world();
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    for (const std::uint64_t key_range : {3u, 1000u, 1000000000u}) {
      expect_sorted_blocks(random_shards(seed, comm.size(), 1 + seed * 37, key_range));
      expect_sorted_blocks(random_shards(seed, comm.size(), 1 + seed * 37, key_range), 1);
    }
  }
}

TEST(DistributedSort, EmptyAndLopsidedShards) {
  const auto& comm = testing::world();
  expect_sorted_blocks(random_shards(1, comm.size(), 0, 10));  // nothing anywhere
  auto shards = random_shards(2, comm.size(), 0, 10);
  shards.back() = {{5, 0}, {1, 1}, {3, 2}};  // fewer records than ranks (at 4), all on the last rank
  expect_sorted_blocks(shards);
  shards.back().clear();
  for (std::uint64_t i = 0; i < 5000; ++i) shards.front().push_back({7, 5000 - i});  // one key, one rank
  expect_sorted_blocks(shards);
}

}  // namespace
}  // namespace omniseg::engine
