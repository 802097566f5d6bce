// Every collective of engine::Communicator at the test's rank count, against results each rank
// computes on its own from the formula every rank used to fill its buffers. Each test runs with
// MPI's own limits and with tiny per-call limits, which drive the piecewise and point-to-point
// paths that messages beyond 2^31 elements take.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/communicator_eigen.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::engine {
namespace {

/// A non-arithmetic element: travels as bytes.
struct Record {
  std::int32_t source;
  std::int32_t target;
  double value;
  friend bool operator==(const Record&, const Record&) = default;
};

std::int64_t value_of(int source, int target, std::uint64_t i) {
  return std::int64_t{source} * 1'000'000 + std::int64_t{target} * 1'000 + static_cast<std::int64_t>(i);
}

/// How many elements rank `source` sends to rank `target`. Zero for many pairs (and for all pairs
/// into rank 0 from even ranks), so empty blocks are everywhere.
std::uint64_t count_of(int source, int target) {
  return static_cast<std::uint64_t>((source * 7 + target * 3) % 5) * static_cast<std::uint64_t>(target > 0 || source % 2);
}

class Collectives : public ::testing::TestWithParam<std::uint64_t> {
 protected:
  Collectives() : comm_(testing::world().duplicate()) {
    if (GetParam() != 0) comm_.set_limits({.max_elements_per_call = GetParam()});
  }
  [[nodiscard]] int p() const { return comm_.size(); }
  [[nodiscard]] int me() const { return comm_.rank(); }
  Communicator comm_;
};

TEST_P(Collectives, BroadcastValueSpanVectorStringFromEveryRoot) {
  for (int root = 0; root < p(); ++root) {
    double value = me() == root ? 3.25 + root : -1.0;
    comm_.broadcast(value, root);
    EXPECT_EQ(value, 3.25 + root);

    std::array<std::int32_t, 5> fixed{};
    if (me() == root) std::iota(fixed.begin(), fixed.end(), root * 10);
    comm_.broadcast(std::span<std::int32_t>(fixed), root);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(fixed[static_cast<std::size_t>(i)], root * 10 + i);

    std::vector<Record> records;
    if (me() == root) {
      for (int i = 0; i < 11; ++i) records.push_back({root, i, 0.5 * i});
    }
    comm_.broadcast(records, root);
    ASSERT_EQ(records.size(), 11u);
    for (int i = 0; i < 11; ++i) EXPECT_EQ(records[static_cast<std::size_t>(i)], (Record{root, i, 0.5 * i}));

    std::string text = me() == root ? "root " + std::to_string(root) + " says hello" : "overwritten";
    comm_.broadcast(text, root);
    EXPECT_EQ(text, "root " + std::to_string(root) + " says hello");

    std::vector<std::uint8_t> empty(me() == root ? 0 : 3, 1);
    comm_.broadcast(empty, root);
    EXPECT_TRUE(empty.empty());
  }
}

template <class T>
void expect_scalar_reductions(const Communicator& comm) {
  const int p = comm.size(), me = comm.rank();
  const T mine = static_cast<T>(me + 1);
  EXPECT_EQ(comm.allreduce(mine, ReduceOp::sum), static_cast<T>(p * (p + 1) / 2));
  EXPECT_EQ(comm.allreduce(mine, ReduceOp::min), static_cast<T>(1));
  EXPECT_EQ(comm.allreduce(mine, ReduceOp::max), static_cast<T>(p));
  T factorial = 1;
  for (int r = 1; r <= p; ++r) factorial = static_cast<T>(factorial * static_cast<T>(r));
  EXPECT_EQ(comm.allreduce(mine, ReduceOp::prod), factorial);
  for (int root = 0; root < p; ++root) {
    EXPECT_EQ(comm.reduce(mine, ReduceOp::sum, root), me == root ? static_cast<T>(p * (p + 1) / 2) : T{});
  }
}

TEST_P(Collectives, ScalarReductionsOfEveryWidth) {
  expect_scalar_reductions<std::int8_t>(comm_);
  expect_scalar_reductions<std::uint8_t>(comm_);
  expect_scalar_reductions<std::int16_t>(comm_);
  expect_scalar_reductions<std::uint16_t>(comm_);
  expect_scalar_reductions<std::int32_t>(comm_);
  expect_scalar_reductions<std::uint32_t>(comm_);
  expect_scalar_reductions<std::int64_t>(comm_);
  expect_scalar_reductions<std::uint64_t>(comm_);
  expect_scalar_reductions<float>(comm_);
  expect_scalar_reductions<double>(comm_);
  expect_scalar_reductions<long long>(comm_);
  expect_scalar_reductions<unsigned long>(comm_);
}

TEST_P(Collectives, BitwiseAndLogicalReductions) {
  const std::uint32_t bit = 1u << me();
  EXPECT_EQ(comm_.allreduce(bit, ReduceOp::bit_or), (1u << p()) - 1);
  EXPECT_EQ(comm_.allreduce(bit, ReduceOp::bit_and), p() == 1 ? 1u : 0u);
  EXPECT_EQ(comm_.allreduce(bit, ReduceOp::bit_xor), (1u << p()) - 1);
  EXPECT_EQ(comm_.allreduce(std::int32_t{me() != 0}, ReduceOp::logical_or), p() > 1 ? 1 : 0);
  EXPECT_EQ(comm_.allreduce(std::int32_t{me() != 0}, ReduceOp::logical_and), 0);
  EXPECT_TRUE(comm_.all_of(true));
  EXPECT_FALSE(comm_.all_of(me() != p() - 1));
  EXPECT_TRUE(comm_.any_of(me() == p() - 1));
  EXPECT_FALSE(comm_.any_of(false));
}

TEST_P(Collectives, ArrayReductionsInPlaceAndToEveryRoot) {
  constexpr std::size_t n = 17;
  std::vector<std::int64_t> mine(n);
  for (std::size_t i = 0; i < n; ++i) mine[i] = value_of(me(), 0, i);
  std::vector<std::int64_t> sum(n), max(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (int r = 0; r < p(); ++r) sum[i] += value_of(r, 0, i);
    max[i] = value_of(p() - 1, 0, i);
  }
  EXPECT_EQ(comm_.allreduce(mine, ReduceOp::sum), sum);
  EXPECT_EQ(comm_.allreduce(std::span<const std::int64_t>(mine), ReduceOp::max), max);
  auto in_place = mine;
  comm_.allreduce_in_place(in_place, ReduceOp::sum);
  EXPECT_EQ(in_place, sum);
  for (int root = 0; root < p(); ++root) {
    const auto reduced = comm_.reduce(mine, ReduceOp::sum, root);
    if (me() == root) {
      EXPECT_EQ(reduced, sum);
    } else {
      EXPECT_TRUE(reduced.empty());
    }
  }
  const std::vector<double> none;
  EXPECT_TRUE(comm_.allreduce(none, ReduceOp::sum).empty());
}

TEST_P(Collectives, ExclusivePrefixSum) {
  const auto offset = comm_.exclusive_prefix_sum(static_cast<std::uint64_t>(me() * me() + 1));
  std::uint64_t expected = 0;
  for (int r = 0; r < me(); ++r) expected += static_cast<std::uint64_t>(r * r + 1);
  EXPECT_EQ(offset, expected);
  EXPECT_EQ(comm_.exclusive_prefix_sum(0), 0u);
}

TEST_P(Collectives, AllgatherValuesAndEqualBlocks) {
  const auto ranks = comm_.allgather(me());
  ASSERT_EQ(ranks.size(), static_cast<std::size_t>(p()));
  for (int r = 0; r < p(); ++r) EXPECT_EQ(ranks[static_cast<std::size_t>(r)], r);

  const Record record{me(), -me(), 1.5 * me()};
  const auto records = comm_.allgather(record);
  for (int r = 0; r < p(); ++r) EXPECT_EQ(records[static_cast<std::size_t>(r)], (Record{r, -r, 1.5 * r}));

  std::array<std::int64_t, 4> block{};
  for (std::size_t i = 0; i < block.size(); ++i) block[i] = value_of(me(), 0, i);
  const auto blocks = comm_.allgather(block);
  ASSERT_EQ(blocks.size(), 4u * static_cast<std::size_t>(p()));
  for (int r = 0; r < p(); ++r) {
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(blocks[static_cast<std::size_t>(r) * 4 + i], value_of(r, 0, i));
  }
  const std::vector<int> empty;
  EXPECT_TRUE(comm_.allgather(empty).empty());
}

/// Rank r's block for the v-gathers: r elements (rank 0 has none), or all empty, or only the last.
std::vector<std::int64_t> gather_block(int rank, int ranks, int pattern) {
  std::uint64_t n = 0;
  if (pattern == 0) n = static_cast<std::uint64_t>(rank);
  if (pattern == 2 && rank == ranks - 1) n = 9;
  std::vector<std::int64_t> block(n);
  for (std::uint64_t i = 0; i < n; ++i) block[i] = value_of(rank, 0, i);
  return block;
}

TEST_P(Collectives, AllgathervWithEmptyBlocks) {
  for (int pattern = 0; pattern < 3; ++pattern) {
    const auto gathered = comm_.allgatherv(gather_block(me(), p(), pattern));
    std::vector<std::int64_t> expected;
    for (int r = 0; r < p(); ++r) {
      const auto block = gather_block(r, p(), pattern);
      EXPECT_EQ(gathered.counts[static_cast<std::size_t>(r)], block.size());
      expected.insert(expected.end(), block.begin(), block.end());
    }
    EXPECT_EQ(gathered.data, expected) << "pattern " << pattern;
  }
}

TEST_P(Collectives, GathervToEveryRootWithEmptyBlocks) {
  for (int pattern = 0; pattern < 3; ++pattern) {
    for (int root = 0; root < p(); ++root) {
      const auto gathered = comm_.gatherv(gather_block(me(), p(), pattern), root);
      if (me() != root) {
        EXPECT_TRUE(gathered.data.empty());
        EXPECT_TRUE(gathered.counts.empty());
        continue;
      }
      std::vector<std::int64_t> expected;
      for (int r = 0; r < p(); ++r) {
        const auto block = gather_block(r, p(), pattern);
        expected.insert(expected.end(), block.begin(), block.end());
      }
      EXPECT_EQ(gathered.data, expected) << "pattern " << pattern << " root " << root;
    }
  }
}

TEST_P(Collectives, AlltoallEqualBlocks) {
  constexpr std::size_t block = 3;
  std::vector<std::int64_t> send;
  for (int target = 0; target < p(); ++target) {
    for (std::size_t i = 0; i < block; ++i) send.push_back(value_of(me(), target, i));
  }
  const auto received = comm_.alltoall(send);
  ASSERT_EQ(received.size(), block * static_cast<std::size_t>(p()));
  for (int source = 0; source < p(); ++source) {
    for (std::size_t i = 0; i < block; ++i) {
      EXPECT_EQ(received[static_cast<std::size_t>(source) * block + i], value_of(source, me(), i));
    }
  }
  const std::vector<std::int64_t> nothing;
  EXPECT_TRUE(comm_.alltoall(nothing).empty());
}

TEST_P(Collectives, AlltoallvScalarsWithEmptyBlocks) {
  std::vector<std::int64_t> send;
  std::vector<std::uint64_t> send_counts;
  for (int target = 0; target < p(); ++target) {
    send_counts.push_back(count_of(me(), target));
    for (std::uint64_t i = 0; i < send_counts.back(); ++i) send.push_back(value_of(me(), target, i));
  }
  ReceivedBlocks<std::int64_t> received;
  received.data.assign(1000, -1);  // stale contents must be replaced
  comm_.alltoallv(send, send_counts, received);
  std::vector<std::int64_t> expected;
  for (int source = 0; source < p(); ++source) {
    EXPECT_EQ(received.counts[static_cast<std::size_t>(source)], count_of(source, me()));
    for (std::uint64_t i = 0; i < count_of(source, me()); ++i) expected.push_back(value_of(source, me(), i));
  }
  EXPECT_EQ(received.data, expected);
}

TEST_P(Collectives, AlltoallvRecordsAndAllEmpty) {
  std::vector<Record> send;
  std::vector<std::uint64_t> send_counts;
  for (int target = 0; target < p(); ++target) {
    send_counts.push_back(count_of(target, me()));  // the transposed pattern
    for (std::uint64_t i = 0; i < send_counts.back(); ++i) send.push_back({me(), target, 0.25 * static_cast<double>(i)});
  }
  const auto received = comm_.alltoallv(send, send_counts);
  std::vector<Record> expected;
  for (int source = 0; source < p(); ++source) {
    for (std::uint64_t i = 0; i < count_of(me(), source); ++i) expected.push_back({source, me(), 0.25 * static_cast<double>(i)});
  }
  EXPECT_EQ(received.data, expected);

  const std::vector<std::uint64_t> zeros(static_cast<std::size_t>(p()), 0);
  const auto none = comm_.alltoallv(std::vector<Record>{}, zeros);
  EXPECT_TRUE(none.data.empty());
  EXPECT_EQ(none.counts, zeros);
}

TEST_P(Collectives, AlltoallvRejectsInconsistentCounts) {
  const std::vector<std::uint64_t> wrong_length(static_cast<std::size_t>(p()) + 1, 0);
  EXPECT_THROW((void)comm_.alltoallv(std::vector<int>{}, wrong_length), std::invalid_argument);
  const std::vector<std::uint64_t> too_many(static_cast<std::size_t>(p()), 1);
  EXPECT_THROW((void)comm_.alltoallv(std::vector<int>{}, too_many), std::invalid_argument);
}

TEST_P(Collectives, EigenAllreduceReduceBroadcast) {
  Eigen::MatrixXd local(3, 4);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) local(i, j) = (me() + 1) * (i * 4 + j);
  }
  Eigen::MatrixXd expected = local / (me() + 1) * (p() * (p() + 1) / 2.0);
  EXPECT_EQ(allreduce(comm_, local, ReduceOp::sum), expected);
  EXPECT_EQ(allreduce(comm_, local.transpose(), ReduceOp::sum), expected.transpose());  // an expression
  Eigen::Vector3i fixed(me(), -me(), 2 * me());
  EXPECT_EQ(allreduce(comm_, fixed, ReduceOp::max), Eigen::Vector3i(p() - 1, 0, 2 * (p() - 1)));
  for (int root = 0; root < p(); ++root) {
    const auto reduced = reduce(comm_, local, ReduceOp::sum, root);
    if (me() == root) {
      EXPECT_EQ(reduced, expected);
    } else {
      EXPECT_EQ(reduced.size(), 0);
    }
    Eigen::MatrixXf shaped = me() == root ? Eigen::MatrixXf::Constant(2, 5, 1.5f * root) : Eigen::MatrixXf(1, 1);
    broadcast(comm_, shaped, root);
    EXPECT_EQ(shaped, Eigen::MatrixXf::Constant(2, 5, 1.5f * root));
  }
}

TEST_P(Collectives, DuplicateHasItsOwnMessageSpace) {
  const auto copy = comm_.duplicate();
  EXPECT_EQ(copy.rank(), me());
  EXPECT_EQ(copy.size(), p());
  EXPECT_EQ(copy.limits().max_elements_per_call, comm_.limits().max_elements_per_call);
  EXPECT_EQ(copy.allreduce(1, ReduceOp::sum), p());
}

TEST_P(Collectives, ExactInt128SumsCarryAcrossSixtyFourBits) {
  // Element 0 carries out of the low 64 bits on every rank; element 1 is negative; element 2
  // mixes signs so the total is zero. Compared with the sum written out in 128-bit arithmetic.
  std::vector<Int128> values(7);
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = (Int128{1} << 63) + static_cast<Int128>(me() + 1) * static_cast<Int128>(i + 1);
  }
  values[1] = -(Int128{3} << 100) - me();
  values[2] = (me() % 2 == 0 ? 1 : -1) * (Int128{1} << 90);
  std::vector<Int128> expected(values.size(), 0);
  for (int rank = 0; rank < p(); ++rank) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      expected[i] += (Int128{1} << 63) + static_cast<Int128>(rank + 1) * static_cast<Int128>(i + 1);
    }
    expected[1] += -(Int128{3} << 100) - rank - ((Int128{1} << 63) + static_cast<Int128>(rank + 1) * 2);
    expected[2] += (rank % 2 == 0 ? 1 : -1) * (Int128{1} << 90) - ((Int128{1} << 63) + static_cast<Int128>(rank + 1) * 3);
  }
  comm_.allreduce_exact_sum_in_place(values);
  EXPECT_TRUE(values == expected);  // gtest cannot print Int128
}

TEST_P(Collectives, SendAndReceiveAlongARing) {
  if (p() == 1) GTEST_SKIP() << "a ring needs two ranks";
  std::vector<std::int64_t> message(10);
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = me() * 100 + static_cast<std::int64_t>(i);
  std::vector<std::int64_t> received(10);
  const int next = (me() + 1) % p(), previous = (me() + p() - 1) % p();
  // Even ranks send first: no deadlock even without buffering.
  if (me() % 2 == 0) {
    comm_.send(message, next);
    comm_.receive(std::span<std::int64_t>(received), previous);
  } else {
    comm_.receive(std::span<std::int64_t>(received), previous);
    comm_.send(message, next);
  }
  for (std::size_t i = 0; i < received.size(); ++i) EXPECT_EQ(received[i], previous * 100 + static_cast<std::int64_t>(i));
}

// 0: MPI's own limit; 1 and 3: every message in tiny pieces; 64: some pieces.
INSTANTIATE_TEST_SUITE_P(Limits, Collectives, ::testing::Values(0, 1, 3, 64),
                         [](const auto& info) { return info.param == 0 ? std::string("mpi_default")
                                                                       : "max_" + std::to_string(info.param); });

TEST(CollectiveLimits, RejectsZeroAndValuesBeyondInt) {
  auto comm = testing::world().duplicate();
  EXPECT_THROW(comm.set_limits({.max_elements_per_call = 0}), std::invalid_argument);
  EXPECT_THROW(comm.set_limits({.max_elements_per_call = 1ULL << 31}), std::invalid_argument);
}

}  // namespace
}  // namespace omniseg::engine
