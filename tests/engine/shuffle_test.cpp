// shuffle_rows at 1-4 ranks against a reference computed from every rank's input (each rank
// generates all ranks' rows from the same seed): the received rows are exactly those sent here,
// ordered by source rank, then by the sender's order, strings intact (empty, NUL bytes, commas,
// quotes); with and without strings, empty ranks, everything on one rank, tiny budgets that force
// many rounds (a row larger than the budget included), capacity reuse and invalid input.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/shuffle.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::engine {
namespace {

struct Record {
  std::uint64_t source = 0;
  std::uint64_t index = 0;
  std::uint32_t payload = 0;
  std::uint16_t small = 0;
  friend bool operator==(const Record&, const Record&) = default;
};

struct Shard {
  Rows<Record> rows;
  std::vector<int> destination;
};

std::string awkward_string(std::mt19937_64& rng) {
  static const std::string alphabet = std::string("ab,\"'\n;:x", 9) + std::string(1, '\0') + "\xff\x7f";
  std::string text(rng() % 40 == 0 ? 200 + rng() % 300 : rng() % 12, ' ');
  for (char& c : text) c = alphabet[rng() % alphabet.size()];
  return text;
}

/// Every rank's input (the same on every rank); shard r is rank r's.
std::vector<Shard> make_shards(std::uint64_t seed, int ranks, std::uint64_t max_rows, bool with_strings,
                               int only_rank = -1) {
  std::mt19937_64 rng(seed);
  std::vector<Shard> shards(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    Shard& shard = shards[static_cast<std::size_t>(r)];
    if (only_rank >= 0 && r != only_rank) continue;
    const std::uint64_t rows = max_rows == 0 ? 0 : rng() % (max_rows + 1);
    for (std::uint64_t i = 0; i < rows; ++i) {
      shard.rows.records.push_back({static_cast<std::uint64_t>(r), i, static_cast<std::uint32_t>(rng()),
                                    static_cast<std::uint16_t>(rng())});
      if (with_strings) shard.rows.strings.push_back(awkward_string(rng));
      shard.destination.push_back(static_cast<int>(rng() % static_cast<std::uint64_t>(ranks)));
    }
  }
  return shards;
}

Rows<Record> expected_at(const std::vector<Shard>& shards, int rank) {
  Rows<Record> expected;
  for (const Shard& shard : shards) {
    for (std::size_t i = 0; i < shard.rows.records.size(); ++i) {
      if (shard.destination[i] != rank) continue;
      expected.records.push_back(shard.rows.records[i]);
      if (!shard.rows.strings.empty()) expected.strings.push_back(shard.rows.strings[i]);
    }
  }
  return expected;
}

void expect_shuffled(const std::vector<Shard>& shards, const ShuffleBudget& budget, Rows<Record>& received,
                     ShuffleStats* stats = nullptr) {
  const auto& comm = testing::world();
  const Shard& mine = shards[static_cast<std::size_t>(comm.rank())];
  shuffle_rows(comm, mine.rows, mine.destination, received, budget, stats);
  const Rows<Record> expected = expected_at(shards, comm.rank());
  ASSERT_EQ(received.records.size(), expected.records.size());
  EXPECT_EQ(received.records, expected.records);
  ASSERT_EQ(received.strings.size(), expected.strings.size());
  EXPECT_TRUE(received.strings == expected.strings);
  EXPECT_EQ(received.strings.offsets().front(), 0U);
  EXPECT_EQ(received.strings.offsets().back(), received.strings.byte_size());
}

TEST(Shuffle, RandomRowsWithAndWithoutStrings) {
  const auto& comm = testing::world();
  Rows<Record> received;  // reused across calls: capacity reuse must not leak old rows
  for (std::uint64_t seed = 0; seed < 10; ++seed) {
    for (const bool with_strings : {false, true}) {
      expect_shuffled(make_shards(seed, comm.size(), 1 + seed * 50, with_strings), {}, received);
    }
  }
}

TEST(Shuffle, EmptyAndLopsided) {
  const auto& comm = testing::world();
  Rows<Record> received;
  expect_shuffled(make_shards(1, comm.size(), 0, true), {}, received);  // nothing anywhere
  EXPECT_TRUE(received.records.empty());
  for (int only = 0; only < comm.size(); ++only) {
    expect_shuffled(make_shards(2 + static_cast<std::uint64_t>(only), comm.size(), 300, true, only), {}, received);
    expect_shuffled(make_shards(2 + static_cast<std::uint64_t>(only), comm.size(), 300, false, only), {}, received);
  }
  // Everything to one rank.
  auto shards = make_shards(9, comm.size(), 200, true);
  for (auto& shard : shards) std::fill(shard.destination.begin(), shard.destination.end(), comm.size() - 1);
  expect_shuffled(shards, {}, received);
}

TEST(Shuffle, TinyBudgetsForceManyRounds) {
  const auto& comm = testing::world();
  Rows<Record> received;
  for (const std::uint64_t budget : {1ULL, 64ULL, 300ULL, 4096ULL}) {
    for (const bool with_strings : {false, true}) {
      ShuffleStats stats;
      const auto shards = make_shards(100 + budget, comm.size(), 120, with_strings);
      expect_shuffled(shards, {.bytes_per_rank = budget}, received, &stats);
      // Rows for other ranks travel through the budgeted buffer; a rank's own rows do not.
      const Shard& mine = shards[static_cast<std::size_t>(comm.rank())];
      const auto rows_away = static_cast<std::uint64_t>(
          std::count_if(mine.destination.begin(), mine.destination.end(), [&](int d) { return d != comm.rank(); }));
      const std::uint64_t most_rows_away = comm.allreduce(rows_away, ReduceOp::max);
      if (budget == 1) {
        EXPECT_EQ(stats.rounds, most_rows_away);  // one row per round
      }
      if (most_rows_away > 10 && budget <= 300) {
        EXPECT_GT(stats.rounds, 1U);
      }
      // Every rank took part in the same number of rounds.
      EXPECT_EQ(comm.allreduce(stats.rounds, ReduceOp::min), comm.allreduce(stats.rounds, ReduceOp::max));
      EXPECT_EQ(comm.allreduce(stats.rows_sent, ReduceOp::sum), comm.allreduce(stats.rows_received, ReduceOp::sum));
      EXPECT_EQ(comm.allreduce(stats.bytes_sent, ReduceOp::sum), comm.allreduce(stats.bytes_received, ReduceOp::sum));
    }
  }
}

TEST(Shuffle, StringsOnlyOnRanksWithRows) {
  // A rank without rows passes no strings while others do: the output still has one string per row.
  const auto& comm = testing::world();
  Rows<Record> received;
  expect_shuffled(make_shards(77, comm.size(), 50, true, comm.size() - 1), {.bytes_per_rank = 200}, received);
}

TEST(Shuffle, InvalidInputFailsOnEveryRank) {
  const auto& comm = testing::world();
  Rows<Record> rows, received;
  rows.records.resize(3);
  std::vector<int> destination(3, 0);
  if (comm.rank() == comm.size() - 1) destination[1] = comm.size();  // outside [0, P)
  EXPECT_THROW(shuffle_rows(comm, rows, destination, received), std::invalid_argument);
  destination.assign(3, 0);
  if (comm.is_root()) destination.pop_back();  // wrong length on one rank
  EXPECT_THROW(shuffle_rows(comm, rows, destination, received), std::invalid_argument);
  destination.assign(3, 0);
  if (comm.is_root()) rows.strings.push_back("only one");  // neither empty nor one per record
  EXPECT_THROW(shuffle_rows(comm, rows, destination, received), std::invalid_argument);
  // And the communicator still works afterwards.
  rows.strings.clear();
  shuffle_rows(comm, rows, destination, received);
  EXPECT_EQ(received.records.size(), comm.is_root() ? 3U * static_cast<std::size_t>(comm.size()) : 0U);
}

TEST(Shuffle, DefaultBudgetIsAtLeastOneMebibyte) {
  const auto& comm = testing::world();
  EXPECT_GE(default_shuffle_budget(comm), std::uint64_t{1} << 20);
}

TEST(StringColumn, BulkAppendAndMove) {
  StringColumn column;
  column.push_back("");
  column.push_back(std::string_view("a\0b", 3));
  const std::vector<std::uint64_t> lengths = {2, 0, 1};
  const std::string bytes = "xyz";
  column.append_block(lengths, std::span<const char>(bytes.data(), bytes.size()));
  ASSERT_EQ(column.size(), 5U);
  EXPECT_EQ(column[0], "");
  EXPECT_EQ(column[1], std::string_view("a\0b", 3));
  EXPECT_EQ(column[2], "xy");
  EXPECT_EQ(column[3], "");
  EXPECT_EQ(column[4], "z");
  EXPECT_THROW(column.append_block(lengths, std::span<const char>(bytes.data(), 2)), std::invalid_argument);
  EXPECT_EQ(column.size(), 5U);
  StringColumn moved = std::move(column);
  EXPECT_EQ(moved.size(), 5U);
  EXPECT_EQ(column.size(), 0U);  // NOLINT(bugprone-use-after-move): a moved-from column is empty and usable
  column.push_back("again");
  EXPECT_EQ(column[0], "again");
  moved.clear();
  EXPECT_TRUE(moved.empty());
  EXPECT_EQ(moved.offsets().size(), 1U);
}

TEST(HashBytes, StableAndLengthAware) {
  // Fixed values: the hash must be the same on every platform, run and rank.
  EXPECT_EQ(hash_bytes(""), hash_bytes(std::string_view("", 0)));
  EXPECT_NE(hash_bytes("a"), hash_bytes(std::string_view("a\0", 2)));
  EXPECT_NE(hash_bytes("web:123"), hash_bytes("app:123"));
  const auto& comm = testing::world();
  const std::uint64_t here = hash_bytes("store:customer-000042,\"quoted\"");
  EXPECT_EQ(comm.allreduce(here, ReduceOp::min), comm.allreduce(here, ReduceOp::max));
  // Every length up to 40 hashes differently from its neighbours.
  std::string text;
  std::vector<std::uint64_t> seen;
  for (int length = 0; length <= 40; ++length) {
    seen.push_back(hash_bytes(text));
    text.push_back(static_cast<char>('a' + length % 26));
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
}

}  // namespace
}  // namespace omniseg::engine
