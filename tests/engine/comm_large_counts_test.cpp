// Messages beyond 2^31 elements for real (not with lowered limits): byte buffers of 2^31 + a few
// bytes through broadcast, allgatherv, gatherv and alltoallv. Memory: about 4.3 GB per rank at
// two ranks; registered at 2 ranks only.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "engine/communicator.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::engine {
namespace {

constexpr std::uint64_t kBeyondInt = (1ULL << 31) + 5;

std::uint8_t pattern(std::uint64_t i, int salt) { return static_cast<std::uint8_t>((i * 131 + static_cast<std::uint64_t>(salt) * 17 + (i >> 20)) & 0xff); }

std::vector<std::uint8_t> filled(std::uint64_t n, int salt) {
  std::vector<std::uint8_t> data(n);
  for (std::uint64_t i = 0; i < n; ++i) data[i] = pattern(i, salt);
  return data;
}

/// Index of the first byte of data[offset, offset + n) that differs from pattern(., salt), or n.
std::uint64_t first_mismatch(const std::vector<std::uint8_t>& data, std::uint64_t offset, std::uint64_t n, int salt) {
  for (std::uint64_t i = 0; i < n; ++i) {
    if (data[offset + i] != pattern(i, salt)) return i;
  }
  return n;
}

TEST(LargeCounts, BroadcastBeyondIntMax) {
  const auto& comm = testing::world();
  std::vector<std::uint8_t> data = comm.is_root() ? filled(kBeyondInt, 1) : std::vector<std::uint8_t>();
  comm.broadcast(data, 0);
  ASSERT_EQ(data.size(), kBeyondInt);
  EXPECT_EQ(first_mismatch(data, 0, kBeyondInt, 1), kBeyondInt);
}

TEST(LargeCounts, AllgathervAndGathervBeyondIntMax) {
  const auto& comm = testing::world();
  const int last = comm.size() - 1;
  const std::uint64_t mine = comm.rank() == last ? kBeyondInt : 3;
  {
    const auto gathered = comm.allgatherv(filled(mine, comm.rank()));
    std::uint64_t offset = 0;
    for (int r = 0; r < comm.size(); ++r) {
      const std::uint64_t n = r == last ? kBeyondInt : 3;
      EXPECT_EQ(first_mismatch(gathered.data, offset, n, r), n) << "block of rank " << r;
      offset += n;
    }
    EXPECT_EQ(offset, gathered.data.size());
  }
  const auto gathered = comm.gatherv(filled(mine, comm.rank()), 0);
  if (comm.is_root()) {
    std::uint64_t offset = 0;
    for (int r = 0; r < comm.size(); ++r) {
      const std::uint64_t n = r == last ? kBeyondInt : 3;
      EXPECT_EQ(first_mismatch(gathered.data, offset, n, r), n) << "block of rank " << r;
      offset += n;
    }
  }
}

TEST(LargeCounts, AlltoallvBeyondIntMax) {
  const auto& comm = testing::world();
  const int last = comm.size() - 1;
  // Rank 0 sends the big block to the last rank (itself on one rank); everyone else sends 7 bytes.
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(comm.size()), 7);
  if (comm.rank() == 0) counts[static_cast<std::size_t>(last)] = kBeyondInt;
  std::vector<std::uint8_t> send;
  for (int target = 0; target < comm.size(); ++target) {
    const auto block = filled(counts[static_cast<std::size_t>(target)], target);
    send.insert(send.end(), block.begin(), block.end());
  }
  const auto received = comm.alltoallv(send, counts);
  send = {};
  std::uint64_t offset = 0;
  for (int source = 0; source < comm.size(); ++source) {
    const std::uint64_t n = (source == 0 && comm.rank() == last) ? kBeyondInt : 7;
    EXPECT_EQ(received.counts[static_cast<std::size_t>(source)], n);
    EXPECT_EQ(first_mismatch(received.data, offset, n, comm.rank()), n) << "block from rank " << source;
    offset += n;
  }
}

}  // namespace
}  // namespace omniseg::engine
