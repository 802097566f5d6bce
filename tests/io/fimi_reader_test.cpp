// The FIMI transaction reader: the local parsing kernel on its own (plain tests, every rank runs
// them alike), and the collective reader at the test's rank count against a deliberately simple
// single-process reference parser, on the real data sets, on hand-made edge cases and on many
// small random files whose line starts fall on every kind of range boundary.
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/errors.hpp"
#include "io/fimi_reader.hpp"
#include "tests/support/mpi_gtest_main.hpp"
#include "tests/support/shared_temp_directory.hpp"

namespace omniseg::io {
namespace {

constexpr std::uint64_t largest_id = 18446744073709551615u;
const std::string byte_order_mark = "\xEF\xBB\xBF";

// ---- the reference: written plainly, shares nothing with the reader ---------------------------

/// Parses a whole valid FIMI file the obvious way: getline, then >> per token, a set per line.
TransactionCsr reference_parse(std::string content) {
  if (content.starts_with(byte_order_mark)) content.erase(0, byte_order_mark.size());
  TransactionCsr expected;
  std::istringstream lines(content);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream tokens(line);
    std::set<std::uint64_t> items;
    std::string token;
    while (tokens >> token) items.insert(std::stoull(token));
    expected.items.insert(expected.items.end(), items.begin(), items.end());
    expected.offsets.push_back(expected.items.size());
  }
  return expected;
}

std::string file_content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string describe(std::span<const std::uint64_t> items) {
  std::string text = "{";
  for (auto item : items) text += (text.size() > 1 ? " " : "") + std::to_string(item);
  return text + "}";
}

/// Equality with a short description of the first difference (the data sets are too big to print).
::testing::AssertionResult same_transactions(const TransactionCsr& actual, const TransactionCsr& expected) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << actual.size() << " transactions, expected " << expected.size();
  }
  for (std::uint64_t t = 0; t < expected.size(); ++t) {
    if (!std::ranges::equal(actual.transaction(t), expected.transaction(t))) {
      return ::testing::AssertionFailure() << "transaction " << t << " is " << describe(actual.transaction(t))
                                           << ", expected " << describe(expected.transaction(t));
    }
  }
  if (actual != expected) return ::testing::AssertionFailure() << "CSR arrays differ";
  return ::testing::AssertionSuccess();
}

std::string parse_error(std::string_view text, std::uint64_t first_line_number) {
  try {
    (void)parse_fimi_text(text, {.file_name = "baskets.dat", .first_line_number = first_line_number});
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// ---- the kernel ----------------------------------------------------------------------------------

TEST(FimiParse, EmptyTextHasNoTransactionsAndANewlineHasOne) {
  EXPECT_EQ(parse_fimi_text("", {}).size(), 0u);
  const auto one_empty = parse_fimi_text("\n", {});
  ASSERT_EQ(one_empty.size(), 1u);
  EXPECT_TRUE(one_empty.transaction(0).empty());
  EXPECT_EQ(parse_fimi_text("\n\n\n", {}).size(), 3u);
}

TEST(FimiParse, LinesWithAndWithoutFinalNewline) {
  const auto with = parse_fimi_text("1 2\n\n3\n", {});
  const auto without = parse_fimi_text("1 2\n\n3", {});
  EXPECT_EQ(with, without);
  EXPECT_EQ(with.offsets, (std::vector<std::uint64_t>{0, 2, 2, 3}));
  EXPECT_EQ(with.items, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(with.item_occurrences(), 3u);
}

TEST(FimiParse, SortsAndCountsDuplicatesOnce) {
  const auto csr = parse_fimi_text("5 3 5 1 3 5\n9 9\n2 4 6\n", {});
  ASSERT_EQ(csr.size(), 3u);
  EXPECT_EQ(describe(csr.transaction(0)), "{1 3 5}");
  EXPECT_EQ(describe(csr.transaction(1)), "{9}");
  EXPECT_EQ(describe(csr.transaction(2)), "{2 4 6}");
  EXPECT_EQ(csr.item_occurrences(), 7u);
}

TEST(FimiParse, TabsRunsOfSpacesAndCrlf) {
  const auto csr = parse_fimi_text(" \t1  2\t\t3 \r\n\r\n  4 \r\n\t", {});
  ASSERT_EQ(csr.size(), 4u);
  EXPECT_EQ(describe(csr.transaction(0)), "{1 2 3}");
  EXPECT_TRUE(csr.transaction(1).empty());
  EXPECT_EQ(describe(csr.transaction(2)), "{4}");
  EXPECT_TRUE(csr.transaction(3).empty());
}

TEST(FimiParse, LargestIdsAndLeadingZeros) {
  const auto csr =
      parse_fimi_text("18446744073709551615 0 007 0000000000000000000000000042 18446744073709551614", {});
  ASSERT_EQ(csr.size(), 1u);
  EXPECT_EQ(csr.items, (std::vector<std::uint64_t>{0, 7, 42, largest_id - 1, largest_id}));
}

TEST(FimiParse, AppendsToAnExistingCsr) {
  TransactionCsr csr = parse_fimi_text("1 2\n", {});
  parse_fimi_text("3\n\n", {}, csr);
  EXPECT_EQ(csr.offsets, (std::vector<std::uint64_t>{0, 2, 3, 3}));
  EXPECT_EQ(csr.items, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(FimiParse, BadTokensNameFileGlobalLineAndToken) {
  const std::string not_an_id = "' is not a non-negative integer item id";
  EXPECT_EQ(parse_error("1 2\n3 abc 4\n", 1000), "baskets.dat:1001: 'abc" + not_an_id);
  EXPECT_EQ(parse_error("-3", 7), "baskets.dat:7: '-3" + not_an_id);
  EXPECT_EQ(parse_error("\n\n1.5 2", 1), "baskets.dat:3: '1.5" + not_an_id);
  EXPECT_EQ(parse_error("+3", 1), "baskets.dat:1: '+3" + not_an_id);
  EXPECT_EQ(parse_error("12x\n", 1), "baskets.dat:1: '12x" + not_an_id);
  EXPECT_EQ(parse_error("1,2\n", 1), "baskets.dat:1: '1,2" + not_an_id);
  EXPECT_EQ(parse_error("1 2\x01\n", 5), "baskets.dat:5: '2\\x01" + not_an_id);
  const std::string beyond = "' is beyond the largest item id, 18446744073709551615";
  EXPECT_EQ(parse_error("1\n18446744073709551616\n", 41), "baskets.dat:42: '18446744073709551616" + beyond);
  EXPECT_EQ(parse_error("99999999999999999999999", 1), "baskets.dat:1: '99999999999999999999999" + beyond);
}

TEST(FimiParse, LongBadTokensAreCutInTheMessage) {
  const std::string message = parse_error(std::string(10'000, 'x'), 1);
  EXPECT_LT(message.size(), 200u);
  EXPECT_NE(message.find("xxx...'"), std::string::npos) << message;
}

// ---- the collective reader -------------------------------------------------------------------

/// Every rank's transactions, concatenated in rank order.
TransactionCsr gather_all(const engine::Communicator& comm, const TransactionCsr& local) {
  std::vector<std::uint64_t> lengths;
  for (std::uint64_t t = 0; t < local.size(); ++t) lengths.push_back(local.transaction(t).size());
  TransactionCsr all;
  all.items = comm.allgatherv(local.items).data;
  for (const std::uint64_t length : comm.allgatherv(lengths).data) {
    all.offsets.push_back(all.offsets.back() + length);
  }
  return all;
}

std::vector<std::string> allgather_strings(const engine::Communicator& comm, const std::string& text) {
  const auto gathered = comm.allgatherv(std::span<const char>(text));
  std::vector<std::string> strings;
  std::size_t begin = 0;
  for (const std::uint64_t count : gathered.counts) {
    strings.emplace_back(gathered.data.data() + begin, count);
    begin += count;
  }
  return strings;
}

/// Where the data sets live: $OMNISEG_DATASETS, else ../shared/datasets next to the repository.
std::filesystem::path datasets_directory() {
  if (const char* configured = std::getenv("OMNISEG_DATASETS")) return configured;
  return std::filesystem::path(__FILE__).parent_path() / "../../../shared/datasets";
}

class FimiReader : public omniseg::testing::SharedTempDirectoryTest {
 protected:
  FimiReader() : SharedTempDirectoryTest("omniseg-fimi") {}

  /// Reads `path` collectively and checks the result against the reference; returns the shard.
  TransactionShard read_and_check(const std::string& path, const FimiReadOptions& options = {}) const {
    const TransactionShard shard = read_fimi_transactions(comm_, path, options);
    const TransactionCsr expected = reference_parse(file_content(path));
    const TransactionCsr& local = shard.local;

    EXPECT_EQ(local.offsets.front(), 0u);
    EXPECT_EQ(local.offsets.back(), local.items.size());
    for (std::uint64_t t = 0; t < local.size(); ++t) {
      const auto items = local.transaction(t);
      EXPECT_TRUE(std::ranges::adjacent_find(items, std::greater_equal<>()) == items.end())
          << "transaction " << t << " is not strictly ascending: " << describe(items);
    }
    EXPECT_TRUE(same_transactions(gather_all(comm_, local), expected)) << path;

    const auto firsts = comm_.allgather(shard.first_global_transaction);
    const auto sizes = comm_.allgather(local.size());
    std::uint64_t before = 0;
    for (std::size_t r = 0; r < firsts.size(); ++r) {
      EXPECT_EQ(firsts[r], before) << "rank " << r << " of " << path;
      before += sizes[r];
    }
    EXPECT_EQ(shard.global_transactions, expected.size());
    EXPECT_EQ(shard.global_item_occurrences, expected.item_occurrences());
    return shard;
  }

  /// Reads `path` expecting failure: every rank must catch the same CollectiveError.
  CollectiveError read_expecting_error(const std::string& path) const {
    std::optional<CollectiveError> caught;
    try {
      (void)read_fimi_transactions(comm_, path);
    } catch (const CollectiveError& e) {
      caught = e;
    }
    const bool failed = caught.has_value();
    EXPECT_TRUE(comm_.all_of(failed)) << "some rank did not get a CollectiveError for " << path;
    if (!failed) return CollectiveError("(none)", 0, -1, {});
    for (const auto& message : allgather_strings(comm_, caught->what())) EXPECT_EQ(message, caught->what());
    EXPECT_EQ(caught->exit_code(), exit_codes::bad_input);
    return *caught;
  }

};

TEST_F(FimiReader, ChessDataSet) {
  const auto path = datasets_directory() / "chess/chess.dat";
  if (!std::filesystem::exists(path)) FAIL() << path << " not found (set OMNISEG_DATASETS)";
  const auto shard = read_and_check(path.string());
  EXPECT_EQ(shard.global_transactions, 3196u);  // GROUND_TRUTH.md
  EXPECT_EQ(shard.global_item_occurrences, 118'252u);
}

TEST_F(FimiReader, RetailDataSet) {
  const auto path = datasets_directory() / "retail/retail.dat";
  if (!std::filesystem::exists(path)) FAIL() << path << " not found (set OMNISEG_DATASETS)";
  const auto shard = read_and_check(path.string());
  EXPECT_EQ(shard.global_transactions, 88'162u);  // GROUND_TRUTH.md
  EXPECT_EQ(shard.global_item_occurrences, 908'576u);
  // Byte ranges are near-equal, so with P ranks nobody should be empty on a 4 MB file.
  EXPECT_GT(shard.local.size(), 0u);
}

TEST_F(FimiReader, FilesSmallerThanTheRankCount) {
  EXPECT_EQ(read_and_check(write_file("empty.dat", "")).global_transactions, 0u);
  EXPECT_EQ(read_and_check(write_file("newline.dat", "\n")).global_transactions, 1u);
  EXPECT_EQ(read_and_check(write_file("one.dat", "1\n")).global_transactions, 1u);
  EXPECT_EQ(read_and_check(write_file("seven.dat", "7")).global_transactions, 1u);
  EXPECT_EQ(read_and_check(write_file("two.dat", "1\n2")).global_transactions, 2u);
}

TEST_F(FimiReader, OneVeryLongLineBelongsToRankZero) {
  std::string line;
  for (int item = 200'000; item > 0; item -= 10) line += std::to_string(item) + " ";
  for (const char* ending : {"", "\n", " \r\n"}) {
    const std::string path = write_file("long.dat", line + ending);
    for (const std::uint64_t chunk_bytes : {1u, 7u, 4096u, 65536u}) {
      const auto shard = read_and_check(path, {.line_extension_chunk_bytes = chunk_bytes});
      EXPECT_EQ(shard.local.size(), comm_.is_root() ? 1u : 0u);
      EXPECT_EQ(shard.global_item_occurrences, 20'000u);
    }
  }
  // A long line after short ones: whoever holds its start reads past the others' ranges.
  const auto shard = read_and_check(write_file("short-then-long.dat", "1\n2\n3\n" + line + "\n4\n"));
  EXPECT_EQ(shard.global_transactions, 5u);
}

TEST_F(FimiReader, EmptyLinesAtStartMiddleAndEnd) {
  const auto shard = read_and_check(write_file("blank.dat", "\n\n1 2\n\n\n3 4 5\n\n"));
  EXPECT_EQ(shard.global_transactions, 7u);
  EXPECT_EQ(shard.global_item_occurrences, 5u);
}

TEST_F(FimiReader, CrlfEverywhereAndNoFinalNewline) {
  read_and_check(write_file("crlf.dat", "1 2 3 \r\n\r\n4 5\r\n6\r\n"));
  read_and_check(write_file("crlf-open.dat", "1 2 3\r\n\r\n4 5\r\n6"));
  EXPECT_EQ(read_and_check(write_file("open.dat", "10 20\n30 40\n50")).global_transactions, 3u);
}

TEST_F(FimiReader, ByteOrderMarkIsSkipped) {
  EXPECT_EQ(read_and_check(write_file("bom-only.dat", byte_order_mark)).global_transactions, 0u);
  EXPECT_EQ(read_and_check(write_file("bom-newline.dat", byte_order_mark + "\n")).global_transactions, 1u);
  const auto shard = read_and_check(write_file("bom.dat", byte_order_mark + "3 1 2\n4\n5 6\n"));
  EXPECT_EQ(shard.global_transactions, 3u);
  // The mark appears in no item, and an unmarked twin reads the same.
  const auto twin = read_fimi_transactions(comm_, write_file("no-bom.dat", "3 1 2\n4\n5 6\n"));
  EXPECT_EQ(shard.local, twin.local);
}

TEST_F(FimiReader, DuplicateItemsAndHugeIds) {
  const auto shard = read_and_check(
      write_file("dups.dat", "4 4 4\n18446744073709551615 1 18446744073709551615\n2 1 2 1\n0 0\n"));
  EXPECT_EQ(shard.global_item_occurrences, 6u);
}

/// A small valid FIMI file with everything the format allows, in random amounts.
std::string random_fimi_file(std::mt19937_64& rng) {
  auto below = [&rng](int bound) { return std::uniform_int_distribution<int>(0, bound - 1)(rng); };
  const char* separators[] = {" ", " ", " ", "  ", "\t", " \t "};
  std::string content = below(8) == 0 ? byte_order_mark : "";
  const bool crlf = below(4) == 0;
  const int lines = below(14);
  for (int line = 0; line < lines; ++line) {
    if (below(3) == 0) content += separators[below(6)];
    const int items = below(5) == 0 ? 0 : below(7);
    for (int i = 0; i < items; ++i) {
      if (i > 0) content += separators[below(6)];
      const int kind = below(10);
      if (kind == 0) {
        content += std::to_string(largest_id - static_cast<std::uint64_t>(below(3)));
      } else if (kind == 1) {
        content += "00" + std::to_string(below(20));
      } else {
        content += std::to_string(below(kind < 5 ? 10 : 100'000));
      }
    }
    if (below(3) == 0) content += " ";
    if (line + 1 < lines || below(2) == 0) content += crlf ? "\r\n" : "\n";
  }
  return content;
}

TEST_F(FimiReader, RandomFilesMatchTheReferenceAtEveryBoundary) {
  std::mt19937_64 rng(20261124);  // same seed on every rank: same files, same options
  for (int file = 0; file < 300; ++file) {
    const std::string content = random_fimi_file(rng);
    const std::uint64_t chunk_bytes = std::uniform_int_distribution<std::uint64_t>(1, 5)(rng);
    const std::string path = write_file("random-" + std::to_string(file) + ".dat", content);
    read_and_check(path, {.line_extension_chunk_bytes = chunk_bytes});
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "first failing file: " << path << " (" << content.size() << " bytes)";
      break;
    }
  }
}

/// 200 good lines, then `last_line`: for up to 4 ranks its start is in the last rank's range.
std::string file_ending_in(const std::string& last_line) {
  std::string content;
  for (int line = 0; line < 200; ++line) content += "1 2 3\n";
  return content + last_line + "\n";
}

TEST_F(FimiReader, BadTokenOnTheLastRanksLineFailsEveryRankAlike) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", "' is not a non-negative integer item id"},
      {"-3", "' is not a non-negative integer item id"},
      {"1.5", "' is not a non-negative integer item id"},
      {"18446744073709551616", "' is beyond the largest item id"}};
  for (const auto& [token, reason] : cases) {
    const std::string path = write_file("bad.dat", file_ending_in("7 " + token + " 9"));
    const CollectiveError error = read_expecting_error(path);
    const std::string expected = "rank " + std::to_string(comm_.size() - 1) + " failed: " + path + ":201: '" +
                                 token + reason;
    EXPECT_TRUE(std::string(error.what()).starts_with(expected))
        << error.what() << "\nexpected: " << expected;
    EXPECT_EQ(error.origin_rank(), comm_.size() - 1);
    EXPECT_EQ(error.failed_ranks(), std::vector<int>{comm_.size() - 1});
  }
}

TEST_F(FimiReader, BadTokenAnywhereNamesItsGlobalLine) {
  std::mt19937_64 rng(7);
  for (int file = 0; file < 40; ++file) {
    std::string content = random_fimi_file(rng);
    if (content.starts_with(byte_order_mark)) content.erase(0, byte_order_mark.size());
    // Put the bad token at the start of a random line.
    std::vector<std::size_t> line_starts{0};
    for (std::size_t i = 0; i + 1 < content.size(); ++i) {
      if (content[i] == '\n') line_starts.push_back(i + 1);
    }
    const auto line = std::uniform_int_distribution<std::size_t>(0, line_starts.size() - 1)(rng);
    content.insert(line_starts[line], "x1 ");
    const std::string path = write_file("bad-" + std::to_string(file) + ".dat", content);
    const std::string expected = path + ":" + std::to_string(line + 1) + ": 'x1' is not";
    const CollectiveError error = read_expecting_error(path);
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    if (::testing::Test::HasFailure()) break;
  }
}

TEST_F(FimiReader, MissingFileOrDirectoryIsAnErrorNamingThePath) {
  const std::string missing = directory_ + "/no-such-file.dat";
  const CollectiveError error = read_expecting_error(missing);
  EXPECT_NE(std::string(error.what()).find("'" + missing + "'"), std::string::npos) << error.what();
  EXPECT_EQ(error.failed_ranks().size(), static_cast<std::size_t>(comm_.size()));

  const CollectiveError directory_error = read_expecting_error(directory_);
  EXPECT_NE(std::string(directory_error.what()).find("is not a regular file"), std::string::npos)
      << directory_error.what();
}

}  // namespace
}  // namespace omniseg::io
