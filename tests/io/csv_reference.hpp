// tests/io/csv_reference.hpp — a deliberately plain, sequential CSV record reader for the tests of
// io/csv_reader: one byte at a time, a flag for "inside quotes", no masks, no ranks, no chunks.
// It shares nothing with the implementation but the documented rules (docs/formats.md, "CSV input").
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace omniseg::io::testing {

struct ReferenceRecord {
  std::uint64_t file_offset = 0;
  std::uint64_t line_number = 0;
  std::string text;  ///< without the line end
  friend bool operator==(const ReferenceRecord&, const ReferenceRecord&) = default;
};

struct ReferenceFile {
  bool has_header = false;     ///< false: the file is empty (after any byte order mark)
  std::string header;          ///< raw header record
  std::vector<ReferenceRecord> records;
};

/// Reads every record of `content`: records end at a "\n" outside quotes (a '"' flips "inside");
/// one "\r" right before that "\n" is not part of the record; the last record may end at the end
/// of the file, without its final "\n" and "\r"; the first record is the header.
inline ReferenceFile reference_read(std::string_view content) {
  ReferenceFile file;
  std::uint64_t position = 0;
  if (content.substr(0, 3) == "\xEF\xBB\xBF") position = 3;
  std::uint64_t line = 1;
  bool first = true;
  while (position < content.size()) {
    ReferenceRecord record{.file_offset = position, .line_number = line, .text = {}};
    bool inside = false;
    bool ended_by_newline = false;
    while (position < content.size()) {
      const char c = content[position++];
      if (c == '\n') ++line;
      if (c == '"') inside = !inside;
      if (c == '\n' && !inside) {
        ended_by_newline = true;
        break;
      }
      record.text += c;
    }
    if (!ended_by_newline && !record.text.empty() && record.text.back() == '\n') record.text.pop_back();
    if (!record.text.empty() && record.text.back() == '\r') record.text.pop_back();
    if (first) {
      file.has_header = true;
      file.header = record.text;
      first = false;
    } else {
      file.records.push_back(record);
    }
  }
  return file;
}

/// Random CSV-like text over the bytes that matter: quotes, delimiters, CR, LF and a letter, in
/// runs likely to form quoted fields, "" escapes, CRLF pairs and stray quotes.
inline std::string random_csv_soup(std::mt19937_64& random, std::size_t length) {
  static constexpr std::string_view pieces[] = {"a", "b", ",", "\"", "\n", "\r\n", "\"\"", "\"x,\ny\"", "ab,cd",
                                                "\r", "12", ",\"q\"", "\n\n"};
  std::string text;
  std::uniform_int_distribution<std::size_t> pick(0, std::size(pieces) - 1);
  while (text.size() < length) text += pieces[pick(random)];
  text.resize(length);
  return text;
}

/// Random well-formed CSV: a header and rows of fields, some quoted (with delimiters, "" and line
/// breaks inside), CRLF or LF line ends, sometimes a blank line, sometimes no final newline.
inline std::string random_csv_rows(std::mt19937_64& random, std::size_t rows, std::size_t columns) {
  std::uniform_int_distribution<int> percent(0, 99);
  const auto field = [&] {
    std::string value;
    const int kind = percent(random);
    if (kind < 10) return value;  // empty
    const int length = 1 + percent(random) % 8;
    for (int i = 0; i < length; ++i) value += static_cast<char>('a' + percent(random) % 26);
    if (kind < 60) return value;
    std::string quoted = "\"";
    for (int i = 0; i < length; ++i) {
      const int extra = percent(random);
      if (extra < 15) quoted += "\"\"";
      else if (extra < 25) quoted += ",";
      else if (extra < 32) quoted += "\n";
      else if (extra < 36) quoted += "\r\n";
      quoted += value[static_cast<std::size_t>(i)];
    }
    return quoted + "\"";
  };
  const std::string line_end = percent(random) < 50 ? "\n" : "\r\n";
  std::string text;
  for (std::size_t row = 0; row <= rows; ++row) {
    if (row > 0 && percent(random) < 5) text += line_end;  // a blank line
    for (std::size_t column = 0; column < columns; ++column) {
      if (column > 0) text += ',';
      text += row == 0 ? "c" + std::to_string(column) : field();
    }
    if (row < rows || percent(random) < 70) text += line_end;
  }
  return text;
}

}  // namespace omniseg::io::testing
