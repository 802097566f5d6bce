// The single-process CSV kernels: the record splitter (every kind of dirty row, and a round trip
// of random fields through CSV quoting), the record boundary kernel on whole texts against the
// plain reference reader (tests/io/csv_reference.hpp), column mapping, and the pieces of the
// reject log that need no ranks (reason names, CSV quoting of output fields, cutting raw text).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/errors.hpp"
#include "io/csv_reader.hpp"
#include "io/reject_log.hpp"
#include "tests/io/csv_reference.hpp"

namespace omniseg::io {
namespace {

using Fields = std::vector<std::string>;

/// The fields of `record`, or {"<bad_quoting>"}.
Fields split(std::string_view record, char delimiter = ',') {
  CsvRecordSplitter splitter(delimiter);
  std::vector<std::string_view> views;
  if (splitter.split(record, views) != CsvRecordSplitter::Status::ok) return {"<bad_quoting>"};
  return Fields(views.begin(), views.end());
}

const Fields bad_quoting{"<bad_quoting>"};

// ---- the splitter -------------------------------------------------------------------------------------

TEST(CsvSplitter, PlainFieldsAndEmptyFields) {
  EXPECT_EQ(split("a,b,c"), (Fields{"a", "b", "c"}));
  EXPECT_EQ(split(""), (Fields{""}));
  EXPECT_EQ(split(","), (Fields{"", ""}));
  EXPECT_EQ(split(",,"), (Fields{"", "", ""}));
  EXPECT_EQ(split("a,"), (Fields{"a", ""}));
  EXPECT_EQ(split(",a"), (Fields{"", "a"}));
  EXPECT_EQ(split(" a , b "), (Fields{" a ", " b "}));  // verbatim: no trimming
  EXPECT_EQ(split("123456,jane.doe42@example.com,98765,2,19.99,2025-03-14T12:34:56"),
            (Fields{"123456", "jane.doe42@example.com", "98765", "2", "19.99", "2025-03-14T12:34:56"}));
}

TEST(CsvSplitter, LongRecordsCrossTheVectorWidth) {
  // The fast path works 16 bytes at a time: delimiters at every position of a long record.
  for (std::size_t length = 0; length < 70; ++length) {
    for (std::size_t position = 0; position <= length; ++position) {
      std::string record(length, 'x');
      record.insert(position, ",");
      const Fields fields = split(record);
      ASSERT_EQ(fields, (Fields{std::string(position, 'x'), std::string(length - position, 'x')})) << record;
    }
  }
  // A stray quote at any position, in a whole 16-byte step or in the last (overlapping) one.
  for (std::size_t length = 1; length < 70; ++length) {
    for (std::size_t position = 0; position < length; ++position) {
      std::string record(length, 'x');
      record[position] = '"';
      ASSERT_EQ(split(record), bad_quoting) << record;
    }
  }
  // A quote beyond the first 16 bytes still sends the record to the careful path.
  EXPECT_EQ(split(std::string(20, 'a') + ",\"b,c\""), (Fields{std::string(20, 'a'), "b,c"}));
  EXPECT_EQ(split(std::string(40, 'a') + "\"b"), bad_quoting);
}

TEST(CsvSplitter, QuotedFieldsWithDelimitersQuotesAndNewlines) {
  EXPECT_EQ(split("\"a,b\",c"), (Fields{"a,b", "c"}));
  EXPECT_EQ(split("\"\""), (Fields{""}));
  EXPECT_EQ(split("\"\",\"\""), (Fields{"", ""}));
  EXPECT_EQ(split("\"say \"\"hi\"\"\",x"), (Fields{"say \"hi\"", "x"}));
  EXPECT_EQ(split("\"\"\"\""), (Fields{"\""}));
  EXPECT_EQ(split("\"\"\"\"\"\""), (Fields{"\"\""}));
  EXPECT_EQ(split("\"line1\nline2\",\"a\r\nb\""), (Fields{"line1\nline2", "a\r\nb"}));
  EXPECT_EQ(split("x,\"\""), (Fields{"x", ""}));
  EXPECT_EQ(split("\"a\","), (Fields{"a", ""}));
  EXPECT_EQ(split("1,\"2\",3,\"4,4\",\"\"\"5\"\"\""), (Fields{"1", "2", "3", "4,4", "\"5\""}));
}

TEST(CsvSplitter, BadQuoting) {
  EXPECT_EQ(split("ab\"c"), bad_quoting);           // a quote inside an unquoted field
  EXPECT_EQ(split("a,b\""), bad_quoting);
  EXPECT_EQ(split("\"abc\"x,d"), bad_quoting);      // text after a closing quote
  EXPECT_EQ(split("\"abc\" ,d"), bad_quoting);      // even a blank
  EXPECT_EQ(split(" \"abc\",d"), bad_quoting);      // a blank before the opening quote
  EXPECT_EQ(split("\"abc"), bad_quoting);           // unterminated
  EXPECT_EQ(split("a,\"b,c"), bad_quoting);
  EXPECT_EQ(split("\"abc\"\""), bad_quoting);       // "" escape, then unterminated
  EXPECT_EQ(split("\""), bad_quoting);
  EXPECT_EQ(split("\"a\"\"\"b"), bad_quoting);
}

TEST(CsvSplitter, OtherDelimiters) {
  EXPECT_EQ(split("a;b,c;\"d;e\"", ';'), (Fields{"a", "b,c", "d;e"}));
  EXPECT_EQ(split("a\tb\t\t", '\t'), (Fields{"a", "b", "", ""}));
  EXPECT_THROW(CsvRecordSplitter('"'), std::invalid_argument);
  EXPECT_THROW(CsvRecordSplitter('\n'), std::invalid_argument);
}

TEST(CsvSplitter, WrongColumnCountIsVisibleInTheFieldCount) {
  EXPECT_EQ(split("1,2").size(), 2u);
  EXPECT_EQ(split("1,2,3,4").size(), 4u);
  EXPECT_EQ(split("\"1,2,3\"").size(), 1u);
}

TEST(CsvSplitter, ViewsStayValidAndBuffersAreReused) {
  CsvRecordSplitter splitter;
  std::vector<std::string_view> fields;
  const std::string record = "\"a\"\"b\",\"c\"\"d\",plain,\"e\"\"\"";
  ASSERT_EQ(splitter.split(record, fields), CsvRecordSplitter::Status::ok);
  EXPECT_EQ(Fields(fields.begin(), fields.end()), (Fields{"a\"b", "c\"d", "plain", "e\""}));
  EXPECT_EQ(fields[2].data(), record.data() + 14);  // unquoted fields are views into the record
  // A second, shorter record reuses the capacity of both buffers.
  const auto capacity = fields.capacity();
  ASSERT_EQ(splitter.split("\"x\"\"y\",z", fields), CsvRecordSplitter::Status::ok);
  EXPECT_EQ(Fields(fields.begin(), fields.end()), (Fields{"x\"y", "z"}));
  EXPECT_EQ(fields.capacity(), capacity);
}

/// CSV-encodes fields: quoted when needed (or at random), inner quotes doubled.
std::string encode(const Fields& fields, std::mt19937_64& random, char delimiter) {
  std::string record;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) record += delimiter;
    const std::string& field = fields[i];
    const bool must_quote = field.find_first_of(std::string("\"\r\n") + delimiter) != std::string::npos;
    if (must_quote || random() % 4 == 0) {
      record += '"';
      for (const char c : field) record += c == '"' ? std::string("\"\"") : std::string(1, c);
      record += '"';
    } else {
      record += field;
    }
  }
  return record;
}

TEST(CsvSplitter, RoundTripOfRandomFields) {
  std::mt19937_64 random(5);
  const std::string alphabet = "ab ,;\"\r\n\t\xc3\xa9";
  for (const char delimiter : {',', ';', '\t'}) {
    for (int trial = 0; trial < 20'000; ++trial) {
      Fields fields(1 + random() % 8);
      for (auto& field : fields) {
        const std::size_t length = random() % 40;  // long enough for the 16-byte fast path
        for (std::size_t i = 0; i < length; ++i) field += alphabet[random() % alphabet.size()];
      }
      const std::string record = encode(fields, random, delimiter);
      ASSERT_EQ(split(record, delimiter), fields) << record;
    }
  }
}

// ---- the record boundary kernel on whole texts ------------------------------------------------------------

/// The kernel's records in the reference's form.
std::vector<testing::ReferenceRecord> kernel_records(const CsvShard& shard) {
  std::vector<testing::ReferenceRecord> records;
  for (std::uint64_t i = 0; i < shard.size(); ++i) {
    records.push_back({.file_offset = shard.file_offset[i], .line_number = shard.line_number[i],
                       .text = std::string(shard.record(i))});
    EXPECT_EQ(shard.record_length[i], records.back().text.size());
  }
  return records;
}

/// Checks split_csv_content against the reference on a text with a well-formed header.
void expect_same_as_reference(const std::string& content) {
  const testing::ReferenceFile expected = testing::reference_read(content);
  ASSERT_TRUE(expected.has_header);
  CsvShard shard;
  split_csv_content(content, "test.csv", shard);
  EXPECT_EQ(kernel_records(shard), expected.records) << "content: " << ::testing::PrintToString(content);
  EXPECT_EQ(shard.global_records, expected.records.size());
  EXPECT_EQ(shard.header, split(expected.header));
}

TEST(CsvRecords, HandMadeFiles) {
  for (const std::string content : {
           "a,b\n", "a,b", "a,b\n1,2\n", "a,b\n1,2", "a,b\r\n1,2\r\n", "a,b\r\n1,2\r", "a,b\n\n", "a,b\n\n\n1,2\n\n",
           "a,b\n\r\n", "a,b\n1,\"x\ny\"\n3,4\n", "a,b\n1,\"x\r\ny\"\r\n3,4", "a,b\n\"\"\"\n\"\"\",1\n",
           "a,b\n1,\"unterminated\n2,3\n", "a,b\n1,\"unterminated\n", "a,b\n1,\"unterminated\r\n", "a,b\nx\"y\nz\"\n",
           "\xEF\xBB\xBF" "a,b\n1,2\n", "\xEF\xBB\xBF" "a,b", "\"h\n1\",h2\n1,2\n", "a\n\"\n\n\"\n\"\n", "a\n\r\r\n\r",
           "\n", "\n\n", "a,b\n\"", "a,b\n\"\"", "a,b\n\n\"\n"}) {
    expect_same_as_reference(content);
  }
}

TEST(CsvRecords, LineNumbersCountPhysicalLines) {
  CsvShard shard;
  split_csv_content("id,text\n1,\"two\nlines\"\n2,\"three\r\nphysical\nlines\"\n\n3,x\n", "f.csv", shard);
  ASSERT_EQ(shard.size(), 4u);
  EXPECT_EQ(shard.line_number, (std::vector<std::uint64_t>{2, 4, 7, 8}));
  EXPECT_EQ(shard.record(0), "1,\"two\nlines\"");
  EXPECT_EQ(shard.record(1), "2,\"three\r\nphysical\nlines\"");
  EXPECT_EQ(shard.record(2), "");
  EXPECT_EQ(shard.record(3), "3,x");
  EXPECT_EQ(shard.file_offset, (std::vector<std::uint64_t>{8, 22, 48, 49}));
  // A header with a line break inside quotes moves every line number.
  split_csv_content("\"a\nb\",c\n1,2\n", "f.csv", shard);
  EXPECT_EQ(shard.header, (Fields{"a\nb", "c"}));
  EXPECT_EQ(shard.line_number, (std::vector<std::uint64_t>{3}));
}

TEST(CsvRecords, HeaderOnlyAndByteOrderMark) {
  CsvShard shard;
  split_csv_content("\xEF\xBB\xBF\"na,me\",\"q\"\"\",plain\r\n", "f.csv", shard);
  EXPECT_EQ(shard.header, (Fields{"na,me", "q\"", "plain"}));
  EXPECT_EQ(shard.size(), 0u);
  split_csv_content("only", "f.csv", shard);
  EXPECT_EQ(shard.header, (Fields{"only"}));
  EXPECT_EQ(shard.size(), 0u);
}

TEST(CsvRecords, EmptyFilesAndBadHeadersAreInputErrors) {
  CsvShard shard;
  for (const std::string content : {"", "\xEF\xBB\xBF"}) {
    try {
      split_csv_content(content, "empty.csv", shard);
      ADD_FAILURE() << "no error for " << ::testing::PrintToString(content);
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "empty.csv: the file is empty; a CSV file needs at least a header line");
    }
  }
  for (const std::string content : {"a,\"b\n1,2\n", "a,b\"c\n1\n", "\"a\"x,b\n"}) {
    try {
      split_csv_content(content, "bad.csv", shard);
      ADD_FAILURE() << "no error for " << ::testing::PrintToString(content);
    } catch (const InputError& e) {
      EXPECT_TRUE(std::string(e.what()).starts_with("bad.csv:1: the header line has bad quoting")) << e.what();
    }
  }
}

TEST(CsvRecords, RandomTextsAgainstTheReference) {
  std::mt19937_64 random(6);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string content = random() % 5 == 0 ? "\xEF\xBB\xBF" : "";
    content += "h1,h2\n";
    if (trial % 2 == 0) {
      content += testing::random_csv_soup(random, random() % 400);
    } else {
      content += testing::random_csv_rows(random, random() % 20, 1 + random() % 5);
    }
    expect_same_as_reference(content);
    if (::testing::Test::HasFailure()) return;
  }
}

// ---- columns -------------------------------------------------------------------------------------------------

TEST(CsvColumns, MapsRolesThroughTheHeader) {
  CsvShard shard;
  split_csv_content("order_id,email,price\n", "orders.csv", shard);
  const std::vector<std::pair<std::string, std::string>> wanted{{"price", "price"}, {"customer", "email"}};
  EXPECT_EQ(map_columns(shard, wanted), (std::vector<std::size_t>{2, 1}));
  EXPECT_TRUE(map_columns(shard, {}).empty());
}

TEST(CsvColumns, MissingAndDuplicateColumnsAreInputErrors) {
  CsvShard shard;
  split_csv_content("a,b,c,b\n", "orders.csv", shard);
  const std::vector<std::pair<std::string, std::string>> missing{{"a", "a"}, {"quantity", "qty"}};
  try {
    (void)map_columns(shard, missing);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "orders.csv: missing column 'qty' (role quantity); the header has: a, b, c, b");
  }
  const std::vector<std::pair<std::string, std::string>> twice{{"item", "b"}};
  try {
    (void)map_columns(shard, twice);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "orders.csv: column 'b' (role item) appears 2 times in the header");
  }
}

// ---- reject log kernels ----------------------------------------------------------------------------------------

TEST(RejectLog, ReasonNamesAreSnakeCaseAndDistinct) {
  std::vector<std::string_view> names;
  for (std::size_t r = 0; r < reject_reason_count; ++r) names.push_back(reason_name(static_cast<RejectReason>(r)));
  EXPECT_EQ(names, (std::vector<std::string_view>{"wrong_column_count", "bad_quoting", "empty_line", "missing_value",
                                                   "bad_number", "bad_date", "bad_timestamp", "bad_value",
                                                   "duplicate_key", "identity_conflict", "unknown_item",
                                                   "unknown_channel_key", "unknown_customer"}));
}

TEST(RejectLog, CsvQuotingOfOutputFields) {
  const auto quoted = [](std::string_view field) {
    std::string line;
    append_csv_field(line, field);
    return line;
  };
  EXPECT_EQ(quoted("plain"), "plain");
  EXPECT_EQ(quoted(""), "");
  EXPECT_EQ(quoted("a,b"), "\"a,b\"");
  EXPECT_EQ(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(quoted("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(quoted("cr\r"), "\"cr\r\"");
  // What the writer quotes, the splitter reads back.
  for (const std::string field : {"a,b", "\"", "x\"\"y", "\r\n", ",\",\""}) EXPECT_EQ(split(quoted(field)), (Fields{field}));
}

TEST(RejectLog, RawTextIsCutAtACharacterBoundary) {
  const std::string ascii(max_raw_bytes, 'a');
  EXPECT_EQ(printable_raw("short", 5), "short");
  EXPECT_EQ(printable_raw(ascii, max_raw_bytes), ascii);
  EXPECT_EQ(printable_raw(ascii, max_raw_bytes + 1), ascii + "...");
  // "é" is 2 bytes, "€" 3, "😀" 4: placed so that the 1000-byte cut splits them or not.
  for (const std::string character : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}) {
    for (std::size_t shift = 0; shift <= character.size(); ++shift) {
      std::string record(max_raw_bytes - shift, 'a');
      record += character + "tail";
      const std::string printed = printable_raw(std::string_view(record).substr(0, max_raw_bytes), record.size());
      const std::size_t kept = shift == 0 ? max_raw_bytes : (shift == character.size() ? max_raw_bytes : max_raw_bytes - shift);
      EXPECT_EQ(printed, record.substr(0, kept) + "...") << "character of " << character.size() << " bytes, shift " << shift;
    }
  }
}

TEST(RejectLog, RecordsAreFixedSizeAndOrderedByFileThenLine) {
  static_assert(sizeof(RejectRecord) == 32);
  const RejectRecord a{.file_index = 0, .reason = RejectReason::bad_date, .column = 1, .line_number = 9,
                       .file_offset = 90, .length = 3};
  RejectRecord b = a;
  b.line_number = 10;
  RejectRecord c = a;
  c.file_index = 1;
  c.line_number = 2;
  EXPECT_TRUE(reject_order(a, b));
  EXPECT_TRUE(reject_order(b, c));
  EXPECT_FALSE(reject_order(a, a));
}

}  // namespace
}  // namespace omniseg::io
