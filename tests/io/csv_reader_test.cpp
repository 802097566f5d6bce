// The collective CSV reader and the reject log at the test's rank count. read_csv_shard is checked
// against the plain sequential reference (tests/io/csv_reference.hpp) on hand-made and random files
// with the rank boundaries forced onto every byte position (inside quoted fields, inside ""
// escapes, between CR and LF, right after the byte order mark, on the last byte) and at random,
// with tiny and normal scan steps, and again batch by batch (CsvShardReader). write_rejects_csv is
// checked byte for byte against a rejects.csv the test formats itself, however the rejects are
// spread over the ranks, and read back with Python's csv module.
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/errors.hpp"
#include "io/csv_reader.hpp"
#include "io/reject_log.hpp"
#include "tests/io/csv_reference.hpp"
#include "tests/support/mpi_gtest_main.hpp"
#include "tests/support/shared_temp_directory.hpp"

namespace omniseg::io {
namespace {

using testing::ReferenceFile;
using testing::ReferenceRecord;
const std::string byte_order_mark = "\xEF\xBB\xBF";

std::string file_content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> allgather_strings(const engine::Communicator& comm, const std::vector<std::string>& local) {
  std::string joined;
  std::vector<std::uint64_t> lengths;
  for (const auto& text : local) {
    joined += text;
    lengths.push_back(text.size());
  }
  const auto all_bytes = comm.allgatherv(std::span<const char>(joined)).data;
  const auto all_lengths = comm.allgatherv(lengths).data;
  std::vector<std::string> strings;
  std::size_t at = 0;
  for (const std::uint64_t length : all_lengths) {
    strings.emplace_back(all_bytes.data() + at, length);
    at += length;
  }
  return strings;
}

/// The records of `shard` in the reference's form.
std::vector<ReferenceRecord> records_of(const CsvShard& shard) {
  std::vector<ReferenceRecord> records;
  for (std::uint64_t i = 0; i < shard.size(); ++i) {
    records.push_back({.file_offset = shard.file_offset[i], .line_number = shard.line_number[i],
                       .text = std::string(shard.record(i))});
  }
  return records;
}

/// Every rank's records, in rank order.
std::vector<ReferenceRecord> gather_records(const engine::Communicator& comm, const std::vector<ReferenceRecord>& local) {
  std::vector<std::string> texts;
  std::vector<std::uint64_t> offsets, lines;
  for (const auto& record : local) {
    texts.push_back(record.text);
    offsets.push_back(record.file_offset);
    lines.push_back(record.line_number);
  }
  const auto all_texts = allgather_strings(comm, texts);
  const auto all_offsets = comm.allgatherv(offsets).data;
  const auto all_lines = comm.allgatherv(lines).data;
  std::vector<ReferenceRecord> records;
  for (std::size_t i = 0; i < all_texts.size(); ++i) {
    records.push_back({.file_offset = all_offsets[i], .line_number = all_lines[i], .text = all_texts[i]});
  }
  return records;
}
std::vector<ReferenceRecord> gather_records(const engine::Communicator& comm, const CsvShard& shard) {
  return gather_records(comm, records_of(shard));
}

std::vector<std::string> split_fields(std::string_view record) {
  CsvRecordSplitter splitter;
  std::vector<std::string_view> fields;
  EXPECT_EQ(splitter.split(record, fields), CsvRecordSplitter::Status::ok) << record;
  return {fields.begin(), fields.end()};
}

class CsvReader : public omniseg::testing::SharedTempDirectoryTest {
 protected:
  CsvReader() : SharedTempDirectoryTest("omniseg-csv") {}

  /// Reads `path` collectively into `shard` and checks it against the reference. With split
  /// points, also checks that every rank's records start inside its own range. Then reads it
  /// again batch by batch (CsvShardReader), which must give the same records on every rank.
  void read_and_check(const std::string& path, const std::string& content, CsvShard& shard,
                      const CsvReadOptions& options = {}) const {
    read_csv_shard(comm_, path, shard, options);
    const ReferenceFile expected = testing::reference_read(content);
    ASSERT_TRUE(expected.has_header);
    const auto records = gather_records(comm_, shard);
    ASSERT_EQ(records, expected.records) << describe(content, options);
    check_batches(path, content, shard, options);
    EXPECT_EQ(shard.global_records, expected.records.size());
    EXPECT_EQ(shard.header, split_fields(expected.header));
    EXPECT_EQ(shard.file_name, path);
    for (std::uint64_t i = 0; i < shard.size(); ++i) {
      EXPECT_EQ(shard.record_length[i], shard.record(i).size());
      EXPECT_EQ(std::string_view(content).substr(shard.file_offset[i], shard.record_length[i]), shard.record(i));
    }
    if (!options.split_points_for_testing.empty() && shard.size() > 0) {
      const auto rank = static_cast<std::size_t>(comm_.rank());
      const auto& points = options.split_points_for_testing;
      if (rank > 0) {
        EXPECT_GE(shard.file_offset.front(), points[rank - 1]) << describe(content, options);
      }
      if (rank < points.size()) {
        EXPECT_LT(shard.file_offset.back(), points[rank]) << describe(content, options);
      }
    }
  }

  /// Reads `path` batch by batch and checks that the batches hold `shard`'s records (read with the
  /// same options), in order, none of them empty, each with the file's name, header and text.
  void check_batches(const std::string& path, const std::string& content, const CsvShard& shard,
                     const CsvReadOptions& options) const {
    CsvShardReader reader(comm_, path, options);
    EXPECT_EQ(reader.file_name(), path);
    EXPECT_EQ(reader.header(), shard.header);
    std::vector<ReferenceRecord> local;
    CsvShard batch;
    while (reader.next_batch(batch)) {
      EXPECT_GT(batch.size(), 0u);
      EXPECT_EQ(batch.header, shard.header);
      EXPECT_EQ(batch.file_name, path);
      EXPECT_EQ(batch.text, content);
      const auto records = records_of(batch);
      local.insert(local.end(), records.begin(), records.end());
    }
    EXPECT_EQ(batch.size(), 0u);
    EXPECT_TRUE(batch.text.empty());
    EXPECT_FALSE(reader.next_batch(batch)) << "a finished reader stays finished";
    EXPECT_LE(local.size(), reader.max_records());
    EXPECT_EQ(local, records_of(shard)) << describe(content, options);
  }

  static std::string describe(const std::string& content, const CsvReadOptions& options) {
    std::string text = "content " + ::testing::PrintToString(content) + ", split points";
    for (const auto point : options.split_points_for_testing) text += " " + std::to_string(point);
    return text + ", chunk " + std::to_string(options.scan_chunk_bytes);
  }

  /// Reads every file at every forced split position (and at random ones), with tiny extension
  /// chunks, against the reference.
  void check_every_split(const std::string& content) {
    const std::string path = write_file("split.csv", content);
    CsvShard shard;
    read_and_check(path, content, shard);
    read_and_check(path, content, shard, {.scan_chunk_bytes = 1});
    const std::size_t ranks = static_cast<std::size_t>(comm_.size());
    if (ranks == 1) return;
    for (std::uint64_t s = 0; s <= content.size() && !failed_on_any_rank(); ++s) {
      // Two ranks share the file at s; with more ranks the ones between own nothing.
      CsvReadOptions options{.scan_chunk_bytes = 1 + s % 3, .split_points_for_testing = {}};
      options.split_points_for_testing.assign(ranks - 1, content.size());
      options.split_points_for_testing.front() = s;
      read_and_check(path, content, shard, options);
      std::fill(options.split_points_for_testing.begin(), options.split_points_for_testing.end(), s);
      read_and_check(path, content, shard, options);
    }
    std::mt19937_64 random(content.size());
    for (int trial = 0; trial < 40 && !failed_on_any_rank(); ++trial) {
      CsvReadOptions options{.scan_chunk_bytes = 1 + random() % 5, .split_points_for_testing = {}};
      for (std::size_t p = 0; p + 1 < ranks; ++p) options.split_points_for_testing.push_back(random() % (content.size() + 1));
      std::sort(options.split_points_for_testing.begin(), options.split_points_for_testing.end());
      read_and_check(path, content, shard, options);
    }
  }

  /// Collective: stopping a loop on one rank's failure alone would leave the others in a collective.
  bool failed_on_any_rank() const { return comm_.any_of(HasFailure()); }

  /// Reads `path` expecting failure: every rank must catch the same CollectiveError (exit code 3).
  std::string read_expecting_error(const std::string& path) const {
    std::optional<CollectiveError> caught;
    CsvShard shard;
    try {
      read_csv_shard(comm_, path, shard);
    } catch (const CollectiveError& e) {
      caught = e;
    }
    const bool failed = caught.has_value();
    EXPECT_TRUE(comm_.all_of(failed)) << "some rank did not get a CollectiveError for " << path;
    if (!failed) return "(none)";
    for (const auto& message : allgather_strings(comm_, {caught->what()})) EXPECT_EQ(message, caught->what());
    EXPECT_EQ(caught->exit_code(), exit_codes::bad_input);
    return caught->what();
  }

};

// ---- read_csv_shard ----------------------------------------------------------------------------------

TEST_F(CsvReader, HandMadeFilesAtEverySplitPoint) {
  const std::vector<std::string> files{
      "id,name\n1,ann\n2,bob\n",
      "id,name\n1,ann\n2,bob",                                       // no final newline
      "id,name\r\n1,ann\r\n2,bob\r\n",                               // CRLF: boundaries between CR and LF
      "id,name\r\n1,ann\r\n2,bob\r",                                 // a lone CR at the end
      byte_order_mark + "id,name\n1,ann\n",                          // boundaries right after the BOM
      byte_order_mark + "id,name",                                   // header only
      "id,name\n",                                                   // header only
      "id,name\n\n1,ann\n\n\n2,bob\n\n",                             // blank lines are records
      "id,note\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n3,\"\"\"\"\n",      // "" escapes
      "id,note\n1,\"two\nlines\"\n2,\"three\r\nphysical\nlines\"\n3,x\n",
      "id,note\n1,\"unterminated\n2,x\n3,y\n",                       // runs to the end of the file
      "id,note\n1,\"unterminated\n",
      "id,note\n1,x\"y\n2,z\"\n3,w\n",                               // stray quotes flip the parity
      "\"id\nwith newline\",note\n1,\"\n\"\n",                       // a header over two lines
      "id\n\"\"\n\"\"\"\"\n\"\n\"\n",
      "h\n" + std::string(100, 'x') + "\n" + std::string(70, 'y'),   // records longer than a scan block
      "h\n\"" + std::string(130, ',') + "\n" + std::string(10, '"') + "\"\n1\n",
  };
  for (const auto& content : files) {
    check_every_split(content);
    if (failed_on_any_rank()) return;
  }
}

TEST_F(CsvReader, RandomFilesAtEverySplitPoint) {
  std::mt19937_64 random(7);
  for (int trial = 0; trial < 12 && !failed_on_any_rank(); ++trial) {
    std::string content = trial % 4 == 0 ? byte_order_mark : "";
    content += "a,b,c\n";
    content += trial % 2 == 0 ? testing::random_csv_soup(random, 60 + random() % 200)
                              : testing::random_csv_rows(random, 3 + random() % 12, 1 + random() % 4);
    check_every_split(content);
  }
}

TEST_F(CsvReader, LargerRandomFileAtTheBlockDistribution) {
  std::mt19937_64 random(8);
  const std::string content = testing::random_csv_rows(random, 40'000, 5);  // about 1.4 MB
  const std::string path = write_file("large.csv", content);
  CsvShard shard;
  for (const std::uint64_t chunk_bytes : {std::uint64_t{7}, std::uint64_t{1} << 16}) {
    read_and_check(path, content, shard, {.scan_chunk_bytes = chunk_bytes});
    EXPECT_GT(shard.size(), 0u) << "near-equal byte ranges leave nobody without records";
  }
  const std::string soup = "h\n" + testing::random_csv_soup(random, 500'000);
  read_and_check(write_file("soup.csv", soup), soup, shard);
}

TEST_F(CsvReader, BatchesFollowTheScanSteps) {
  std::mt19937_64 random(10);
  const std::string content = testing::random_csv_rows(random, 40'000, 5);  // about 1.4 MB
  const std::string path = write_file("batches.csv", content);
  CsvShardReader reader(comm_, path, {.scan_chunk_bytes = 1 << 16});
  const std::uint64_t range_bytes = reader.range_bytes();
  CsvShard batch;
  std::uint64_t batches = 0, records = 0;
  while (reader.next_batch(batch)) {
    ++batches;
    records += batch.size();
    // A step of 64 KiB closes at most as many records as it has line ends.
    EXPECT_LE(batch.size(), std::uint64_t{1} << 16);
  }
  EXPECT_GE(batches, range_bytes >> 16) << "one batch per step of 64 KiB, about";
  EXPECT_LE(records, reader.max_records());
  EXPECT_EQ(comm_.allreduce(records, engine::ReduceOp::sum), testing::reference_read(content).records.size());

  CsvShardReader moved_to = std::move(reader);
  EXPECT_FALSE(moved_to.next_batch(batch)) << "finished, and stays finished when moved";
  CsvShardReader fresh(comm_, path);
  CsvShardReader moved = std::move(fresh);
  EXPECT_FALSE(fresh.next_batch(batch)) << "a moved-from reader has nothing left";  // NOLINT(bugprone-use-after-move)
  std::uint64_t moved_records = 0;
  while (moved.next_batch(batch)) moved_records += batch.size();
  EXPECT_EQ(moved_records, records);
}

TEST_F(CsvReader, ShardBuffersAreReusedAcrossFiles) {
  std::mt19937_64 random(9);
  const std::string big = testing::random_csv_rows(random, 5000, 3);
  const std::string small = "x,y\n1,2\n";
  CsvShard shard;
  read_and_check(write_file("big.csv", big), big, shard);
  read_and_check(write_file("small.csv", small), small, shard);
  EXPECT_EQ(shard.header, (std::vector<std::string>{"x", "y"}));
  read_and_check(write_file("header.csv", "only\n"), "only\n", shard);
  EXPECT_EQ(shard.size(), 0u);
}

TEST_F(CsvReader, AnUnterminatedQuoteSwallowsTheRestOfTheFile) {
  std::string content = "id,note\n1,\"open\n";
  for (int i = 2; i < 2000; ++i) content += std::to_string(i) + ",x\n";
  CsvShard shard;
  read_and_check(write_file("open.csv", content), content, shard, {.scan_chunk_bytes = 64});
  EXPECT_EQ(shard.global_records, 1u);
  EXPECT_EQ(shard.size(), comm_.is_root() ? 1u : 0u);
}

TEST_F(CsvReader, LongHeaderAndOtherDelimiter) {
  std::string header;
  for (int c = 0; c < 300; ++c) header += (c ? ";" : "") + std::string("\"col;") + std::to_string(c) + "\"";
  const std::string content = header + "\r\n1;2\n";
  CsvShard shard;
  read_csv_shard(comm_, write_file("semicolon.csv", content), shard, {.delimiter = ';', .scan_chunk_bytes = 3});
  ASSERT_EQ(shard.header.size(), 300u);
  EXPECT_EQ(shard.header[299], "col;299");
  EXPECT_EQ(shard.global_records, 1u);
  EXPECT_EQ(gather_records(comm_, shard), (std::vector<ReferenceRecord>{{header.size() + 2, 2, "1;2"}}));
}

TEST_F(CsvReader, BadFilesAreTheSameInputErrorOnEveryRank) {
  const std::string empty = write_file("empty.csv", "");
  EXPECT_EQ(read_expecting_error(empty), "rank 0 failed: " + empty + ": the file is empty; a CSV file needs at least a header line");
  const std::string bom_only = write_file("bom.csv", byte_order_mark);
  EXPECT_NE(read_expecting_error(bom_only).find(bom_only + ": the file is empty"), std::string::npos);
  const std::string bad_header = write_file("bad-header.csv", "a,\"b\n1,2\n");
  EXPECT_NE(read_expecting_error(bad_header).find(bad_header + ":1: the header line has bad quoting"), std::string::npos);
  const std::string missing = directory_ + "/missing.csv";
  EXPECT_NE(read_expecting_error(missing).find("cannot open CSV file '" + missing + "'"), std::string::npos);
  EXPECT_NE(read_expecting_error(directory_).find("is not a regular file"), std::string::npos);
}

TEST_F(CsvReader, SplitPointsMustMatchTheRankCount) {
  CsvShard shard;
  const std::string path = write_file("points.csv", "a\n1\n");
  CsvReadOptions options;
  options.split_points_for_testing.assign(static_cast<std::size_t>(comm_.size()), 1);
  EXPECT_THROW(read_csv_shard(comm_, path, shard, options), std::invalid_argument);
}

// ---- write_rejects_csv -------------------------------------------------------------------------------

/// The test's own formatting of one output field (RFC 4180 quoting).
std::string csv_field(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (const char c : field) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

class RejectsCsv : public CsvReader {
 protected:
  struct Input {
    std::string path, name, content;
    std::vector<std::string> columns;
    std::vector<ReferenceRecord> records;
  };

  void SetUp() override {
    CsvReader::SetUp();
    std::string long_record = "7,";
    for (int i = 0; i < 400; ++i) long_record += "\xe2\x82\xac";  // 1200 bytes of '€': cut at a boundary
    add_input("orders_web.csv", "web orders, 2025",
              "order_id,price,note\n1,19.99,ok\n2,abc,\"has, comma\"\n3,,\"quote \"\"q\"\"\"\n\n4,\"unterminated\n" +
                  std::string("5,1,x\n"),
              {"order_id", "price", "note"});
    add_input("items.csv", "items.csv",
              "item_id,category\n10,a\n11,\"two\r\nlines\"\n12,b,extra\n" + long_record + "\n" + std::string(1500, 'z') +
                  "\n13,\"a\"b\n",
              {"item_id", "category"});
  }

  void add_input(const std::string& file, const std::string& name, const std::string& content,
                 std::vector<std::string> columns) {
    const ReferenceFile reference = testing::reference_read(content);
    inputs_.push_back({write_file(file, content), name, content, std::move(columns), reference.records});
  }

  /// Rejects of every record of every input, with assorted reasons and columns (a few twice).
  std::vector<RejectRecord> all_rejects() const {
    std::vector<RejectRecord> rejects;
    for (std::size_t f = 0; f < inputs_.size(); ++f) {
      for (std::size_t r = 0; r < inputs_[f].records.size(); ++r) {
        const auto& record = inputs_[f].records[r];
        const auto reason = static_cast<RejectReason>((f * 7 + r) % reject_reason_count);
        const std::uint16_t column = r % 3 == 0 ? no_column : static_cast<std::uint16_t>(r % 4);  // 3: unnamed
        rejects.push_back({.file_index = static_cast<std::uint32_t>(f), .reason = reason, .column = column,
                           .line_number = record.line_number, .file_offset = record.file_offset,
                           .length = record.text.size()});
        if (r % 4 == 1) {  // a second reason for the same row
          rejects.push_back(rejects.back());
          rejects.back().reason = RejectReason::duplicate_key;
        }
      }
    }
    return rejects;
  }

  /// The raw text as rejects.csv should show it: whole when short, else the first 1000 bytes less
  /// the start of a character that the cut would split (the first byte left out continues it).
  static std::string expected_raw(const std::string& content, const RejectRecord& reject) {
    const std::string record = content.substr(reject.file_offset, reject.length);
    if (record.size() <= max_raw_bytes) return record;
    std::size_t cut = max_raw_bytes;
    while (cut > 0 && (static_cast<unsigned char>(record[cut]) & 0xC0) == 0x80) --cut;
    return record.substr(0, cut) + "...";
  }

  /// rejects.csv as the documentation describes it, formatted by the test.
  std::string expected_text(std::vector<RejectRecord> rejects) const {
    std::sort(rejects.begin(), rejects.end(), [](const RejectRecord& a, const RejectRecord& b) {
      if (a.file_index != b.file_index) return a.file_index < b.file_index;
      if (a.line_number != b.line_number) return a.line_number < b.line_number;
      return static_cast<int>(a.reason) < static_cast<int>(b.reason);
    });
    std::string text = "file,line,reason,column,raw\n";
    for (const auto& reject : rejects) {
      const Input& input = inputs_[reject.file_index];
      const std::string raw = expected_raw(input.content, reject);
      std::string column;
      if (reject.column != no_column) {
        column = reject.column < input.columns.size() ? input.columns[reject.column] : std::to_string(reject.column);
      }
      text += csv_field(input.name) + "," + std::to_string(reject.line_number) + "," +
              std::string(reason_name(reject.reason)) + "," + csv_field(column) + "," + csv_field(raw) + "\n";
    }
    return text;
  }

  std::string write(std::vector<RejectRecord> local) const {
    std::vector<std::pair<std::string, std::string>> files;
    std::vector<std::vector<std::string>> columns;
    for (const auto& input : inputs_) {
      files.emplace_back(input.path, input.name);
      columns.push_back(input.columns);
    }
    const std::string path = directory_ + "/rejects.csv";
    write_rejects_csv(comm_, path, std::move(local), files, columns);
    return path;
  }

  std::vector<Input> inputs_;
};

TEST_F(RejectsCsv, SameBytesHoweverTheRejectsAreSpread) {
  const std::vector<RejectRecord> rejects = all_rejects();
  const std::string expected = expected_text(rejects);
  const int ranks = comm_.size();
  std::mt19937_64 random(10);
  for (int spread = 0; spread < 5; ++spread) {
    std::vector<RejectRecord> local;
    std::vector<RejectRecord> shuffled = rejects;
    std::shuffle(shuffled.begin(), shuffled.end(), random);  // the same on every rank: same seed
    for (std::size_t i = 0; i < shuffled.size(); ++i) {
      const int owner = spread == 0   ? 0                                           // all on rank 0
                        : spread == 1 ? ranks - 1                                   // all on the last rank
                        : spread == 2 ? static_cast<int>(i % static_cast<std::size_t>(ranks))  // round robin
                                      : static_cast<int>(random() % static_cast<std::size_t>(ranks));
      if (owner == comm_.rank()) local.push_back(shuffled[i]);
    }
    const std::string path = write(local);
    EXPECT_EQ(file_content(path), expected) << "spread " << spread;
  }
}

TEST_F(RejectsCsv, NoRejectsIsJustTheHeader) {
  EXPECT_EQ(file_content(write({})), "file,line,reason,column,raw\n");
}

TEST_F(RejectsCsv, RawTextIsCutAfter1000BytesAndQuoted) {
  const std::string text = file_content(write(comm_.is_root() ? all_rejects() : std::vector<RejectRecord>{}));
  EXPECT_NE(text.find(",\"7,\xe2\x82\xac"), std::string::npos);
  EXPECT_NE(text.find("\xe2\x82\xac...\"\n"), std::string::npos);  // 2 + 332 * 3 = 998 bytes, then "..."
  EXPECT_NE(text.find(std::string(1000, 'z') + "...\n"), std::string::npos);
  EXPECT_EQ(text.find(std::string(1001, 'z')), std::string::npos);
  EXPECT_NE(text.find("\"web orders, 2025\",3,"), std::string::npos);  // the name is quoted too
  EXPECT_NE(text.find("\"3,,\"\"quote \"\"\"\"q\"\"\"\"\"\"\"\n"), std::string::npos) << text;
}

TEST_F(RejectsCsv, PythonCsvReadsBackEveryField) {
  const std::vector<RejectRecord> rejects = all_rejects();
  std::vector<RejectRecord> local;
  for (std::size_t i = 0; i < rejects.size(); ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(comm_.size())) == comm_.rank()) local.push_back(rejects[i]);
  }
  const std::string path = write(local);
  // Expected rows, one JSON array of strings per row, from the test's own (unquoted) values.
  int status = 0;
  if (comm_.is_root()) {
    nlohmann::json rows = nlohmann::json::array();
    rows.push_back({"file", "line", "reason", "column", "raw"});
    std::vector<RejectRecord> sorted = rejects;
    std::sort(sorted.begin(), sorted.end(), reject_order);
    for (const auto& reject : sorted) {
      const Input& input = inputs_[reject.file_index];
      const std::string raw = expected_raw(input.content, reject);
      const std::string column = reject.column == no_column ? ""
                                 : reject.column < input.columns.size() ? input.columns[reject.column]
                                                                         : std::to_string(reject.column);
      rows.push_back({input.name, std::to_string(reject.line_number), std::string(reason_name(reject.reason)), column,
                      raw});
    }
    std::ofstream(directory_ + "/expected.json") << rows.dump();
    const std::string command =
        "/usr/bin/python3 -c 'import csv, json, sys\n"
        "rows = list(csv.reader(open(sys.argv[1], newline=\"\", encoding=\"utf-8\")))\n"
        "expected = json.load(open(sys.argv[2], encoding=\"utf-8\"))\n"
        "sys.exit(0 if rows == expected else 1)' " +
        path + " " + directory_ + "/expected.json";
    status = std::system(command.c_str());
  }
  comm_.broadcast(status);
  EXPECT_EQ(status, 0) << "Python's csv module read rejects.csv differently";
}

TEST_F(RejectsCsv, AMissingInputIsTheSameErrorOnEveryRank) {
  std::vector<RejectRecord> local = all_rejects();
  std::vector<std::pair<std::string, std::string>> files{{directory_ + "/gone.csv", "gone"}, {inputs_[1].path, "x"}};
  std::optional<CollectiveError> caught;
  try {
    write_rejects_csv(comm_, directory_ + "/rejects.csv", local, files, {});
  } catch (const CollectiveError& e) {
    caught = e;
  }
  EXPECT_TRUE(comm_.all_of(caught.has_value()));
  if (caught) {
    EXPECT_NE(std::string(caught->what()).find("gone.csv"), std::string::npos) << caught->what();
  }
  EXPECT_FALSE(std::filesystem::exists(directory_ + "/rejects.csv"));
}

}  // namespace
}  // namespace omniseg::io
