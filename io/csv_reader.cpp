#include "io/csv_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/block_distribution.hpp"
#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"

namespace omniseg::io {
namespace {

constexpr std::string_view utf8_byte_order_mark = "\xEF\xBB\xBF";
/// Bytes per step of the boundary scan: one bit per byte in a 64-bit mask.
constexpr std::size_t block_bytes = 64;

std::string system_message(int error_number) { return std::generic_category().message(error_number); }

// ---- byte masks -----------------------------------------------------------------------------------
// The record structure depends on two bytes only, '\n' and '"'. Each 64-byte block becomes two
// bit masks; quote parity inside the block is a prefix XOR of the quote mask (as in simdjson), so
// the boundary scan costs a few instructions per 64 bytes and a branch per record, not per byte.

struct BlockMasks {
  std::uint64_t newlines = 0;
  std::uint64_t quotes = 0;
};

/// The masks of 64 readable bytes at `bytes`.
inline BlockMasks masks_of_full_block(const char* bytes) {
  BlockMasks masks;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i quote = _mm_set1_epi8('"');
  for (int part = 0; part < 4; ++part) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + 16 * part));
    const auto newline_bits = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, newline)));
    const auto quote_bits = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, quote)));
    masks.newlines |= std::uint64_t{newline_bits} << (16 * part);
    masks.quotes |= std::uint64_t{quote_bits} << (16 * part);
  }
#else
  for (std::size_t i = 0; i < block_bytes; ++i) {
    masks.newlines |= std::uint64_t{bytes[i] == '\n'} << i;
    masks.quotes |= std::uint64_t{bytes[i] == '"'} << i;
  }
#endif
  return masks;
}

/// The masks of the `count` (< 64) bytes at `bytes`; the missing bytes count as neither.
inline BlockMasks masks_of_partial_block(const char* bytes, std::size_t count) {
  std::array<char, block_bytes> padded{};
  std::memcpy(padded.data(), bytes, count);
  return masks_of_full_block(padded.data());
}

inline BlockMasks masks_at(std::string_view text, std::size_t at) {
  const std::size_t available = text.size() - at;
  return available >= block_bytes ? masks_of_full_block(text.data() + at)
                                  : masks_of_partial_block(text.data() + at, available);
}

/// Bit i of the result is the XOR of bits 0..i of `bits`.
constexpr std::uint64_t prefix_xor(std::uint64_t bits) {
  for (int shift = 1; shift < 64; shift *= 2) bits ^= bits << shift;
  return bits;
}

/// Bits 0..bit set.
constexpr std::uint64_t bits_through(unsigned bit) { return (std::uint64_t{2} << bit) - 1; }  // bit 63: wraps to all

struct ByteCounts {
  std::uint64_t quotes = 0;
  std::uint64_t newlines = 0;
};

ByteCounts count_quotes_and_newlines(std::string_view text) {
  ByteCounts counts;
  for (std::size_t at = 0; at < text.size(); at += block_bytes) {
    const BlockMasks masks = masks_at(text, at);
    counts.quotes += static_cast<std::uint64_t>(std::popcount(masks.quotes));
    counts.newlines += static_cast<std::uint64_t>(std::popcount(masks.newlines));
  }
  return counts;
}

// ---- the record boundary scan -------------------------------------------------------------------

/// Finds records in a text buffer that may grow while it is scanned (the tail of a rank's last
/// record is read chunk by chunk). Records open at a given index and after every "\n" outside
/// quotes whose next byte lies before `owned_end`; the first "\n" outside quotes at or after
/// `owned_end - 1` closes the last record and ends the scan. Records go to `shard`'s arrays
/// (indices into the scanned text; file offsets from `text_file_offset`).
class RecordScanner {
 public:
  RecordScanner(CsvShard& shard, std::uint64_t text_file_offset, std::size_t owned_end, bool inside_quotes,
                std::uint64_t line_number)
      : shard_(shard),
        text_file_offset_(text_file_offset),
        owned_end_(owned_end),
        inside_quotes_(inside_quotes),
        line_number_(line_number) {}

  /// Opens a record at `index`, which must be where the next scan() starts.
  void open_record_at(std::size_t index) { open(index, line_number_); }

  /// Scans text[from, text.size()), `from` being where the previous call stopped (or the start).
  /// Returns true once the scan is over: the last owned record closed, or no record open and the
  /// owned bytes passed.
  bool scan(std::string_view text, std::size_t from) {
    for (std::size_t base = from; base < text.size(); base += block_bytes) {
      if (!record_open_ && base >= owned_end_) return true;
      const BlockMasks masks = masks_at(text, base);
      const std::uint64_t inside = prefix_xor(masks.quotes) ^ (inside_quotes_ ? ~std::uint64_t{0} : 0);
      for (std::uint64_t boundaries = masks.newlines & ~inside; boundaries != 0; boundaries &= boundaries - 1) {
        const auto bit = static_cast<unsigned>(std::countr_zero(boundaries));
        const std::size_t newline = base + bit;
        if (record_open_) close(text, newline);
        if (newline + 1 >= owned_end_) {
          stop_position_ = newline;
          return true;
        }
        open(newline + 1, line_number_ + static_cast<std::uint64_t>(std::popcount(masks.newlines & bits_through(bit))));
      }
      inside_quotes_ = (inside >> 63) != 0;  // the state after the block's last (real) byte
      line_number_ += static_cast<std::uint64_t>(std::popcount(masks.newlines));
    }
    return !record_open_ && text.size() >= owned_end_;
  }

  /// Closes the open record at the end of the file: it runs to the last byte, without a final
  /// line end (which can only be inside an unterminated quote).
  void close_at_end_of_file(std::string_view text) {
    std::size_t end = text.size();
    if (end > open_begin_ && text[end - 1] == '\n') --end;
    if (end > open_begin_ && text[end - 1] == '\r') --end;
    shard_.record_length.push_back(end - open_begin_);
    record_open_ = false;
  }

  [[nodiscard]] bool record_open() const { return record_open_; }
  /// The "\n" that ended the scan, once scan() returned true after closing a record.
  [[nodiscard]] std::size_t stop_position() const { return stop_position_; }

 private:
  void open(std::size_t index, std::uint64_t line_number) {
    shard_.record_begin.push_back(index);
    shard_.line_number.push_back(line_number);
    shard_.file_offset.push_back(text_file_offset_ + index);
    open_begin_ = index;
    record_open_ = true;
  }
  void close(std::string_view text, std::size_t newline) {
    std::size_t end = newline;
    if (end > open_begin_ && text[end - 1] == '\r') --end;
    shard_.record_length.push_back(end - open_begin_);
    record_open_ = false;
  }

  CsvShard& shard_;
  std::uint64_t text_file_offset_;
  std::size_t owned_end_;
  bool inside_quotes_;
  std::uint64_t line_number_;  ///< line of the next byte to scan
  bool record_open_ = false;
  std::size_t open_begin_ = 0;
  std::size_t stop_position_ = 0;
};

// ---- the header ----------------------------------------------------------------------------------

/// Where the data begins, as rank 0 found it; every rank adopts it.
struct FileLayout {
  std::uint64_t size_bytes = 0;
  std::uint64_t data_begin = 0;       ///< the first byte after the header line
  std::uint64_t data_first_line = 2;  ///< line number of the byte at data_begin
};

std::size_t byte_order_mark_length(std::string_view head) {
  return head.starts_with(utf8_byte_order_mark) ? utf8_byte_order_mark.size() : 0;
}

[[noreturn]] void throw_empty_file(const std::string& file_name) {
  throw InputError(file_name + ": the file is empty; a CSV file needs at least a header line");
}

/// Finds the header record. `bytes` holds the file from `content_begin` on as far as it was read,
/// initially nothing; `read_more(bytes)` appends the next chunk and returns false at the end of file.
template <class ReadMore>
FileLayout locate_header(std::string& bytes, std::uint64_t content_begin, std::uint64_t size_bytes,
                         ReadMore read_more, const std::string& file_name, char delimiter,
                         std::vector<std::string>& names) {
  CsvShard header_record;
  RecordScanner scanner(header_record, content_begin, 1, false, 1);
  scanner.open_record_at(0);
  std::size_t from = 0;
  bool ended_by_newline = false;
  while (read_more(bytes)) {
    if (scanner.scan(bytes, from)) {
      ended_by_newline = true;
      break;
    }
    from = bytes.size();
  }
  if (!ended_by_newline) scanner.close_at_end_of_file(bytes);
  const std::size_t header_bytes = ended_by_newline ? scanner.stop_position() + 1 : bytes.size();
  FileLayout layout{.size_bytes = size_bytes, .data_begin = content_begin + header_bytes, .data_first_line = 1};
  layout.data_first_line += count_quotes_and_newlines(std::string_view(bytes).substr(0, header_bytes)).newlines;

  std::vector<std::string_view> fields;
  CsvRecordSplitter splitter(delimiter);
  const std::string_view header = std::string_view(bytes).substr(0, header_record.record_length.front());
  if (splitter.split(header, fields) != CsvRecordSplitter::Status::ok) {
    throw InputError(file_name + ":1: the header line has bad quoting (a quote inside an unquoted name, text after a "
                                 "closing quote, or an unterminated quote)");
  }
  names.assign(fields.begin(), fields.end());
  return layout;
}

void clear_records(CsvShard& shard) {
  shard.text.clear();
  shard.record_begin.clear();
  shard.record_length.clear();
  shard.line_number.clear();
  shard.file_offset.clear();
  shard.global_records = 0;
}

void reserve_records(CsvShard& shard, std::uint64_t records) {
  shard.record_begin.reserve(records);
  shard.record_length.reserve(records);
  shard.line_number.reserve(records);
  shard.file_offset.reserve(records);
}

/// This rank's byte range of the data: the block distribution, or the test's split points.
engine::RowRange owned_byte_range(const engine::Communicator& comm, const FileLayout& layout,
                                  const CsvReadOptions& options) {
  const std::uint64_t data_bytes = layout.size_bytes - layout.data_begin;
  const auto& points = options.split_points_for_testing;
  if (points.empty()) {
    const engine::RowRange range = engine::BlockDistribution(data_bytes, comm.size()).range(comm.rank());
    return {range.begin + layout.data_begin, range.end + layout.data_begin};
  }
  if (points.size() + 1 != static_cast<std::size_t>(comm.size())) {
    throw std::invalid_argument("read_csv_shard: split_points_for_testing needs size() - 1 points");
  }
  // Boundary r is where rank r begins; clamped and non-decreasing, so the ranges tile the data.
  std::vector<std::uint64_t> boundaries{layout.data_begin};
  for (const std::uint64_t point : points) {
    boundaries.push_back(std::max(boundaries.back(), std::clamp(point, layout.data_begin, layout.size_bytes)));
  }
  boundaries.push_back(layout.size_bytes);
  const auto rank = static_cast<std::size_t>(comm.rank());
  return {boundaries[rank], boundaries[rank + 1]};
}

}  // namespace

// ---- RandomAccessFile -----------------------------------------------------------------------------

RandomAccessFile::RandomAccessFile(const std::string& path, std::string what)
    : path_(path), what_(std::move(what)), descriptor_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
  if (descriptor_ < 0) throw InputError("cannot open " + what_ + " '" + path + "': " + system_message(errno));
  // A throwing constructor runs no destructor: close the descriptor on the way out.
  const auto fail = [this](const std::string& message) {
    ::close(descriptor_);
    throw InputError(message);
  };
  struct stat status{};
  if (::fstat(descriptor_, &status) != 0) fail("cannot inspect " + what_ + " '" + path + "': " + system_message(errno));
  if (!S_ISREG(status.st_mode)) fail(what_ + " '" + path + "' is not a regular file");
  size_bytes_ = static_cast<std::uint64_t>(status.st_size);
}

RandomAccessFile::RandomAccessFile(RandomAccessFile&& other) noexcept
    : path_(std::move(other.path_)),
      what_(std::move(other.what_)),
      descriptor_(std::exchange(other.descriptor_, -1)),
      size_bytes_(other.size_bytes_) {}

RandomAccessFile::~RandomAccessFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

void RandomAccessFile::read_bytes(std::uint64_t offset, std::uint64_t length, char* destination) const {
  while (length > 0) {
    // pread moves at most about 2 GiB per call on Linux: loop over partial reads.
    const ssize_t got = ::pread(descriptor_, destination, length, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw InputError("cannot read " + what_ + " '" + path_ + "': " + system_message(errno));
    if (got == 0) {
      throw InputError(what_ + " '" + path_ + "' ended early at byte " + std::to_string(offset) +
                       " (did it change while being read?)");
    }
    destination += got;
    offset += static_cast<std::uint64_t>(got);
    length -= static_cast<std::uint64_t>(got);
  }
}

void RandomAccessFile::append_bytes(std::uint64_t offset, std::uint64_t length, std::string& buffer) const {
  const std::size_t old_size = buffer.size();
  buffer.resize(old_size + length);
  read_bytes(offset, length, buffer.data() + old_size);
}

// ---- the collective reader ------------------------------------------------------------------------

void read_csv_shard(const engine::Communicator& comm, const std::string& path, CsvShard& shard,
                    const CsvReadOptions& options) {
  shard.file_name = path;
  shard.header.clear();
  clear_records(shard);
  const std::uint64_t chunk_bytes = std::max<std::uint64_t>(options.line_extension_chunk_bytes, 1);

  // Every rank opens the file itself; rank 0 finds the header, and its view decides the ranges.
  FileLayout layout;
  const RandomAccessFile file = engine::collectively(comm, [&] {
    RandomAccessFile opened(path, "CSV file");
    if (comm.is_root()) {
      std::string head;
      opened.append_bytes(0, std::min<std::uint64_t>(utf8_byte_order_mark.size(), opened.size_bytes()), head);
      const std::uint64_t content_begin = byte_order_mark_length(head);
      if (opened.size_bytes() == content_begin) throw_empty_file(path);
      std::uint64_t next = content_begin;
      const auto read_more = [&](std::string& bytes) {
        if (next >= opened.size_bytes()) return false;
        const std::uint64_t length = std::min(chunk_bytes, opened.size_bytes() - next);
        opened.append_bytes(next, length, bytes);
        next += length;
        return true;
      };
      std::string bytes;
      layout = locate_header(bytes, content_begin, opened.size_bytes(), read_more, path, options.delimiter, shard.header);
    }
    return opened;
  });
  comm.broadcast(layout);
  std::uint64_t columns = shard.header.size();
  comm.broadcast(columns);
  shard.header.resize(columns);
  for (std::string& name : shard.header) comm.broadcast(name);

  const engine::RowRange range = owned_byte_range(comm, layout, options);
  // One byte before the range tells whether a record starts at its first byte.
  const std::uint64_t read_begin = range.begin > layout.data_begin ? range.begin - 1 : range.begin;
  const ByteCounts counts = engine::collectively(comm, [&] {
    if (range.size() == 0) return ByteCounts{};
    file.append_bytes(read_begin, range.end - read_begin, shard.text);
    return count_quotes_and_newlines(std::string_view(shard.text).substr(range.begin - read_begin));
  });

  // The parity of the quotes before the range says whether it starts inside a quoted field; the
  // newlines before it give its line numbers. Both are exact, whatever the split.
  const bool starts_inside_quotes = (comm.exclusive_prefix_sum(counts.quotes) & 1) != 0;
  const std::uint64_t first_line = layout.data_first_line + comm.exclusive_prefix_sum(counts.newlines);

  engine::collectively(comm, [&] {
    if (range.size() == 0) return;
    reserve_records(shard, counts.newlines + 1);
    const std::size_t first = range.begin - read_begin;
    RecordScanner scanner(shard, read_begin, range.end - read_begin, starts_inside_quotes, first_line);
    if (range.begin == layout.data_begin || (shard.text.front() == '\n' && !starts_inside_quotes)) {
      scanner.open_record_at(first);
    }
    std::size_t from = first;
    while (!scanner.scan(shard.text, from) && scanner.record_open()) {
      // The last record runs past the range: read on until its line end, or to the end of file.
      const std::uint64_t next = read_begin + shard.text.size();
      if (next >= layout.size_bytes) {
        scanner.close_at_end_of_file(shard.text);
        break;
      }
      from = shard.text.size();
      file.append_bytes(next, std::min(chunk_bytes, layout.size_bytes - next), shard.text);
    }
  });
  shard.global_records = comm.allreduce(shard.size(), engine::ReduceOp::sum);
}

void split_csv_content(std::string_view content, const std::string& file_name, CsvShard& shard, char delimiter) {
  shard.file_name = file_name;
  shard.header.clear();
  clear_records(shard);
  const std::uint64_t content_begin = byte_order_mark_length(content);
  if (content.size() == content_begin) throw_empty_file(file_name);
  bool delivered = false;
  const auto read_more = [&](std::string& bytes) {
    if (delivered) return false;
    bytes.assign(content.substr(content_begin));
    delivered = true;
    return true;
  };
  std::string bytes;
  const FileLayout layout = locate_header(bytes, content_begin, content.size(), read_more, file_name, delimiter, shard.header);

  shard.text.assign(content);
  RecordScanner scanner(shard, 0, content.size(), false, layout.data_first_line);
  if (layout.data_begin < content.size()) {
    scanner.open_record_at(layout.data_begin);
    if (!scanner.scan(shard.text, layout.data_begin)) scanner.close_at_end_of_file(shard.text);
  }
  shard.global_records = shard.size();
}

// ---- the splitter ----------------------------------------------------------------------------------

CsvRecordSplitter::CsvRecordSplitter(char delimiter) : delimiter_(delimiter) {
  if (delimiter == '"' || delimiter == '\n' || delimiter == '\r') {
    throw std::invalid_argument("CsvRecordSplitter: the delimiter cannot be a quote or a line end");
  }
}

CsvRecordSplitter::Status CsvRecordSplitter::split(std::string_view record, std::vector<std::string_view>& fields) {
  fields.clear();
  const char* const bytes = record.data();
  const std::size_t size = record.size();
  std::size_t field_begin = 0;
  std::size_t at = 0;
  // Fast path: records without quotes split at every delimiter. A quote anywhere sends the whole
  // record to the careful path (rare in machine-written files).
#if defined(__SSE2__)
  const __m128i delimiter = _mm_set1_epi8(delimiter_);
  const __m128i quote = _mm_set1_epi8('"');
  for (; at + 16 <= size; at += 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + at));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, quote)) != 0) return split_quoted(record, fields);
    auto delimiters = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, delimiter)));
    for (; delimiters != 0; delimiters &= delimiters - 1) {
      const std::size_t position = at + static_cast<std::size_t>(std::countr_zero(delimiters));
      fields.emplace_back(bytes + field_begin, position - field_begin);
      field_begin = position + 1;
    }
  }
#endif
  for (; at < size; ++at) {
    const char c = bytes[at];
    if (c == '"') return split_quoted(record, fields);
    if (c == delimiter_) {
      fields.emplace_back(bytes + field_begin, at - field_begin);
      field_begin = at + 1;
    }
  }
  fields.emplace_back(bytes + field_begin, size - field_begin);
  return Status::ok;
}

CsvRecordSplitter::Status CsvRecordSplitter::split_quoted(std::string_view record,
                                                          std::vector<std::string_view>& fields) {
  fields.clear();
  scratch_.clear();
  // Unescaped text is never longer than the record: with this capacity the scratch buffer does not
  // move during the call, so the views into it stay valid.
  scratch_.reserve(record.size());
  const std::size_t size = record.size();
  std::size_t at = 0;
  for (;;) {
    if (at < size && record[at] == '"') {
      const std::size_t content_begin = ++at;
      bool has_escapes = false;
      std::size_t closing = std::string_view::npos;
      while (closing == std::string_view::npos) {
        const std::size_t quote = record.find('"', at);
        if (quote == std::string_view::npos) return Status::bad_quoting;  // unterminated
        if (quote + 1 < size && record[quote + 1] == '"') {
          has_escapes = true;
          at = quote + 2;
        } else {
          closing = quote;
        }
      }
      const std::string_view content = record.substr(content_begin, closing - content_begin);
      if (has_escapes) {
        const std::size_t unescaped_begin = scratch_.size();
        for (std::size_t i = 0; i < content.size(); ++i) {
          scratch_ += content[i];
          if (content[i] == '"') ++i;  // the second quote of a ""
        }
        fields.emplace_back(scratch_.data() + unescaped_begin, scratch_.size() - unescaped_begin);
      } else {
        fields.push_back(content);
      }
      at = closing + 1;
      if (at == size) return Status::ok;
      if (record[at] != delimiter_) return Status::bad_quoting;  // text after the closing quote
      ++at;
    } else {
      const std::size_t field_begin = at;
      while (at < size && record[at] != delimiter_) {
        if (record[at] == '"') return Status::bad_quoting;  // a quote inside an unquoted field
        ++at;
      }
      fields.push_back(record.substr(field_begin, at - field_begin));
      if (at == size) return Status::ok;
      ++at;
    }
  }
}

// ---- columns -------------------------------------------------------------------------------------

std::vector<std::size_t> map_columns(const CsvShard& shard,
                                     std::span<const std::pair<std::string, std::string>> columns) {
  std::vector<std::size_t> indices;
  indices.reserve(columns.size());
  for (const auto& [role, name] : columns) {
    const auto found = std::ranges::find(shard.header, name);
    if (found == shard.header.end()) {
      std::string have;
      for (const auto& column : shard.header) have += (have.empty() ? "" : ", ") + column;
      throw InputError(shard.file_name + ": missing column '" + name + "' (role " + role + "); the header has: " + have);
    }
    const auto count = std::ranges::count(shard.header, name);
    if (count > 1) {
      throw InputError(shard.file_name + ": column '" + name + "' (role " + role + ") appears " +
                       std::to_string(count) + " times in the header");
    }
    indices.push_back(static_cast<std::size_t>(found - shard.header.begin()));
  }
  return indices;
}

}  // namespace omniseg::io
