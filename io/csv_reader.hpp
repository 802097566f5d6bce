// io/csv_reader.hpp — reading CSV files in parallel, record by record.
//
// Owns: the CSV dialect omniseg reads (RFC 4180 with a configurable delimiter; see "CSV input" in
// docs/formats.md), the collective reader in which every rank reads only its own byte range of a
// file and keeps the records (rows) that start there, the splitting of one record into fields,
// and mapping column names of the header to indices. Does not own: the syntax of typed values
// (io/csv_fields.hpp), what makes a row acceptable to a pipeline and the reject log
// (io/reject_log.hpp, jobs/), or any MPI call (it talks through engine::Communicator only).
//
// Records and lines: a record ends at a "\n" outside quotes, so a quoted field may hold line
// breaks; the quote state is exact on any number of ranks because it is the parity of the '"'
// bytes since the header, not a guess from nearby bytes. A stray quote in an unquoted field flips
// that parity like any other: the record then runs on to the next newline outside quotes (and the
// splitter calls it bad quoting), exactly as a sequential reader would see it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/communicator.hpp"

namespace omniseg::io {

struct CsvReadOptions {
  /// Separates fields. The record structure (quotes, newlines) does not depend on it, only fields.
  char delimiter = ',';
  /// Bytes read at a time past the end of this rank's range while finishing its last record.
  /// Tests make it tiny to run the extension loop; large values waste little (one read per chunk).
  std::uint64_t line_extension_chunk_bytes = std::uint64_t{1} << 16;
  /// Tests only: where this rank's byte range begins/ends is normally the block distribution of the
  /// file's bytes (after the header line) over the ranks; a test may force explicit split points to
  /// put boundaries inside quoted fields and between CR and LF. Empty = block distribution.
  /// Otherwise size() - 1 absolute file offsets, the same on every rank: rank r owns
  /// [point r-1, point r) (rank 0 from the data's first byte, the last rank to the end of the
  /// file). Points are clamped to the data bytes and made non-decreasing.
  std::vector<std::uint64_t> split_points_for_testing = {};
};

/// One rank's share of a CSV file: the records (rows) that START in its byte range, in file order.
struct CsvShard {
  std::string file_name;               ///< as given to read_csv_shard
  std::vector<std::string> header;     ///< column names of line 1, unquoted, BOM removed; same on all ranks
  std::string text;                    ///< this rank's bytes (the buffer is reused across calls)
  /// Per record: where it is in `text`; its length in bytes without the line end; its 1-based
  /// physical line number in the file (the header is line 1; a record with a newline inside quotes
  /// spans several lines and has the number of its first); its byte offset in the file.
  std::vector<std::uint64_t> record_begin, record_length, line_number, file_offset;
  std::uint64_t global_records = 0;    ///< records over all ranks

  /// Number of records on this rank.
  [[nodiscard]] std::uint64_t size() const { return record_begin.size(); }
  /// The raw bytes of record `i` (i < size()), without "\n" or "\r\n" at the end.
  [[nodiscard]] std::string_view record(std::uint64_t i) const {
    return std::string_view(text).substr(record_begin[i], record_length[i]);
  }
};

/// Collective. Every rank reads its own byte range of `path` (the block distribution of the bytes
/// after the header line) plus the tail of its last record, and keeps the records that start in its
/// range. Line ends are "\n" or "\r\n" outside quotes; a UTF-8 byte order mark at the start is
/// skipped; a missing final newline is fine; a final "\n" starts no empty record; blank lines are
/// (empty) records, so that every line is accounted for. A header-only file has no records; a file
/// without even a header line (zero bytes, or only a byte order mark) is an InputError naming the
/// file, and so is a header with bad quoting. An unterminated quote makes the last record run to the
/// end of the file. `shard` is in/out so that its buffers are reused across files. Any failure ends
/// with the same CollectiveError on every rank (exit code 3 for bad input).
void read_csv_shard(const engine::Communicator& comm, const std::string& path, CsvShard& shard,
                    const CsvReadOptions& options = {});

/// Pure kernel: the same records as read_csv_shard on one rank, from a whole file held in memory
/// (`content`, header included; `shard.text` becomes a copy of it). Throws InputError like the reader.
void split_csv_content(std::string_view content, const std::string& file_name, CsvShard& shard,
                       char delimiter = ',');

/// Pure kernel: splits one record into fields per RFC 4180. Quoted fields may contain delimiters,
/// newlines and "" (an escaped quote). Unquoted fields are views into `record`; quoted fields are
/// views into `record` too unless they hold "" escapes, which are unescaped into a scratch buffer
/// owned by the splitter: the views stay valid until the next split() call. Buffers are reused, so
/// there is no allocation per field (nor per record) after warm-up. Fields are taken verbatim: no
/// trimming. An empty record is one empty field.
class CsvRecordSplitter {
 public:
  /// `delimiter` may be any byte but '"', '\n' and '\r' (std::invalid_argument).
  explicit CsvRecordSplitter(char delimiter = ',');
  enum class Status { ok, bad_quoting };
  /// Fills `fields` (cleared first; capacity reused). bad_quoting: a quote inside an unquoted field,
  /// anything but a delimiter after a closing quote, or an unterminated quote; `fields` then holds
  /// the fields split so far.
  Status split(std::string_view record, std::vector<std::string_view>& fields);
  [[nodiscard]] char delimiter() const { return delimiter_; }

 private:
  Status split_quoted(std::string_view record, std::vector<std::string_view>& fields);
  char delimiter_;
  std::string scratch_;
};

/// Maps roles to column indices through the header. `columns` lists (role, column name in the
/// file). A missing column is an InputError "<file>: missing column '<name>' (role <role>); the
/// header has: a, b, c"; a wanted column that appears twice in the header is an InputError too
/// (which one would be meant?). Not collective: the header is the same on every rank, so every
/// rank throws the same error.
[[nodiscard]] std::vector<std::size_t> map_columns(const CsvShard& shard,
                                                   std::span<const std::pair<std::string, std::string>> columns);

/// A regular file open for reading at offsets (pread), closed on destruction. `what` names the
/// kind of file in error messages ("CSV file"). Errors are InputErrors naming the path.
class RandomAccessFile {
 public:
  RandomAccessFile(const std::string& path, std::string what);
  RandomAccessFile(RandomAccessFile&& other) noexcept;
  RandomAccessFile& operator=(RandomAccessFile&&) = delete;
  RandomAccessFile(const RandomAccessFile&) = delete;
  RandomAccessFile& operator=(const RandomAccessFile&) = delete;
  ~RandomAccessFile();

  [[nodiscard]] std::uint64_t size_bytes() const { return size_bytes_; }
  /// Appends the bytes [offset, offset + length) of the file to `buffer` (which must lie within
  /// the file: a shorter file is an InputError, "did it change while being read?").
  void append_bytes(std::uint64_t offset, std::uint64_t length, std::string& buffer) const;
  /// Reads [offset, offset + length) into `destination`.
  void read_bytes(std::uint64_t offset, std::uint64_t length, char* destination) const;

 private:
  std::string path_;
  std::string what_;
  int descriptor_ = -1;
  std::uint64_t size_bytes_ = 0;
};

}  // namespace omniseg::io
