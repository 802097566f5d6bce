// io/csv_reader.hpp — reading CSV files in parallel, record by record.
//
// Owns: the CSV dialect omniseg reads (RFC 4180 with a configurable delimiter; see "CSV input" in
// docs/formats.md), the collective reader in which every rank reads only its own byte range of a
// file and keeps the records (rows) that start there (all at once, read_csv_shard, or batch by
// batch, CsvShardReader), the splitting of one record into fields, mapping column names of the
// header to indices, and the file access behind it (MappedFile; RandomAccessFile for reading
// records back by offset). Does not own: the syntax of typed values
// (io/csv_fields.hpp), what makes a row acceptable to a pipeline and the reject log
// (io/reject_log.hpp, jobs/), or any MPI call (it talks through engine::Communicator only).
//
// Records and lines: a record ends at a "\n" outside quotes, so a quoted field may hold line
// breaks; the quote state is exact on any number of ranks because it is the parity of the '"'
// bytes since the header, not a guess from nearby bytes. A stray quote in an unquoted field flips
// that parity like any other: the record then runs on to the next newline outside quotes (and the
// splitter calls it bad quoting), exactly as a sequential reader would see it.
//
// Speed: the file is mapped, not read into a buffer (a file in the page cache then costs no copy
// and no page faults of a fresh buffer); the record scan looks at 64 bytes per step; a batch
// of records is parsed while its bytes are still in cache. bench/csv_reader_bench.cpp measures it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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
  /// Bytes scanned for records per step: a CsvShardReader batch holds the records that end in one
  /// step (a few thousand rows, so that they are still in cache when parsed). Tests make it tiny to
  /// resume the scan at every byte; it changes no result.
  std::uint64_t scan_chunk_bytes = std::uint64_t{1} << 18;
  /// Tests only: where this rank's byte range begins/ends is normally the block distribution of the
  /// file's bytes (after the header line) over the ranks; a test may force explicit split points to
  /// put boundaries inside quoted fields and between CR and LF. Empty = block distribution.
  /// Otherwise size() - 1 absolute file offsets, the same on every rank: rank r owns
  /// [point r-1, point r) (rank 0 from the data's first byte, the last rank to the end of the
  /// file). Points are clamped to the data bytes and made non-decreasing.
  std::vector<std::uint64_t> split_points_for_testing = {};
};

/// One rank's share of a CSV file: the records (rows) that START in its byte range, in file order;
/// or, from CsvShardReader::next_batch, a run of consecutive ones.
struct CsvShard {
  std::string file_name;               ///< as given to read_csv_shard
  std::vector<std::string> header;     ///< column names of line 1, unquoted, BOM removed; same on all ranks
  /// The bytes the records lie in: the whole file, mapped into memory (or split_csv_content's copy
  /// of its content), so that a record's offset in the file is its position in `text` too. Valid
  /// while `text_owner` holds it.
  std::string_view text;
  std::shared_ptr<const void> text_owner;  ///< keeps `text` alive (copies of the shard share it)
  /// Per record: its byte offset in the file (and in `text`); its length in bytes without the line
  /// end; its 1-based physical line number in the file (the header is line 1; a record with a
  /// newline inside quotes spans several lines and has the number of its first).
  std::vector<std::uint64_t> file_offset, record_length, line_number;
  std::uint64_t global_records = 0;    ///< records over all ranks (0 in a batch: not known yet)

  /// Number of records on this rank.
  [[nodiscard]] std::uint64_t size() const { return file_offset.size(); }
  /// The raw bytes of record `i` (i < size()), without "\n" or "\r\n" at the end.
  [[nodiscard]] std::string_view record(std::uint64_t i) const { return text.substr(file_offset[i], record_length[i]); }
};

class MappedFile;
namespace detail {
class RecordScanner;
}  // namespace detail

/// Reads one rank's share of a CSV file in batches of records, so that a large file is never held
/// as records all at once and each batch is parsed while its bytes are still in cache. The
/// constructor is collective and does all that needs the other ranks (rank 0 finds the header;
/// every rank maps the file, counts the quotes and line ends of its byte range, and learns from the
/// ranks before it whether its range starts inside quotes and on which line). next_batch is local.
/// The batches together hold exactly the records read_csv_shard gives, in the same order.
class CsvShardReader {
 public:
  /// Collective; errors as read_csv_shard.
  CsvShardReader(const engine::Communicator& comm, const std::string& path, const CsvReadOptions& options = {});
  CsvShardReader(CsvShardReader&&) noexcept;
  CsvShardReader& operator=(CsvShardReader&&) noexcept;
  CsvShardReader(const CsvShardReader&) = delete;
  CsvShardReader& operator=(const CsvShardReader&) = delete;
  ~CsvShardReader();

  [[nodiscard]] const std::string& file_name() const { return file_name_; }
  [[nodiscard]] const std::vector<std::string>& header() const { return header_; }
  /// An upper bound of the records this rank reads (its range's line ends plus one), for reserving.
  [[nodiscard]] std::uint64_t max_records() const { return max_records_; }
  /// Bytes of this rank's range: where its records begin (the last one may end beyond).
  [[nodiscard]] std::uint64_t range_bytes() const { return range_end_ - range_begin_; }

  /// Local. Replaces the records of `batch` (and its file name, header, text) with the next ones, at
  /// least one; returns false, with `batch` left without records or text, once all were handed out.
  bool next_batch(CsvShard& batch);

 private:
  friend void read_csv_shard(const engine::Communicator&, const std::string&, CsvShard&, const CsvReadOptions&);
  /// Scans one more step, appending the records that end in it to `out`; false once done.
  bool scan_step(CsvShard& out);

  std::string file_name_;
  std::vector<std::string> header_;
  std::shared_ptr<const MappedFile> file_;
  std::string_view text_;  ///< the whole file
  std::uint64_t range_begin_ = 0, range_end_ = 0;
  std::uint64_t max_records_ = 0;
  std::uint64_t chunk_bytes_ = 1;
  std::uint64_t position_ = 0;  ///< where the next step starts
  bool done_ = true;
  std::unique_ptr<detail::RecordScanner> scanner_;
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
/// The file is mapped into memory (MappedFile), not copied: it must not shrink while being read.
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
  /// The same into the splitter's own buffer, read through fields() until the next call: the form
  /// for hot loops (the buffer has room for every field before the split starts, so a field costs
  /// a store, not a vector's bookkeeping).
  Status split(std::string_view record);
  [[nodiscard]] std::span<const std::string_view> fields() const { return {buffer_.data(), field_count_}; }
  [[nodiscard]] char delimiter() const { return delimiter_; }

 private:
  Status split_quoted(std::string_view record, std::string_view* out);
  char delimiter_;
  std::vector<std::string_view> buffer_;
  std::size_t field_count_ = 0;
  std::string scratch_;
};

/// Maps roles to column indices through the header. `columns` lists (role, column name in the
/// file). A missing column is an InputError "<file>: missing column '<name>' (role <role>); the
/// header has: a, b, c"; a wanted column that appears twice in the header is an InputError too
/// (which one would be meant?). Not collective: the header is the same on every rank, so every
/// rank throws the same error.
[[nodiscard]] std::vector<std::size_t> map_columns(const std::string& file_name, std::span<const std::string> header,
                                                   std::span<const std::pair<std::string, std::string>> columns);
[[nodiscard]] inline std::vector<std::size_t> map_columns(const CsvShard& shard,
                                                          std::span<const std::pair<std::string, std::string>> columns) {
  return map_columns(shard.file_name, shard.header, columns);
}

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

/// A regular file mapped read-only into memory, unmapped on destruction. For a file in the page
/// cache this costs neither a copy nor fresh pages (the kernel maps the cached pages, large folios
/// at once), which reading into a buffer does: on the VMs omniseg is developed on, first-touch of a
/// buffer runs at 1-2.5 GB/s, slower than parsing. The price: a file that shrinks while mapped
/// raises SIGBUS where read() would have reported an error. A SIGBUS handler (installed with the
/// first mapping) names the file whose mapping faulted and ends the rank with exit code 3; the
/// launcher then ends the others. Errors are InputErrors naming the path.
class MappedFile {
 public:
  MappedFile(const std::string& path, const std::string& what);
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  /// The whole file.
  [[nodiscard]] std::string_view bytes() const { return {static_cast<const char*>(address_), size_bytes_}; }
  /// Asks the kernel to read [offset, offset + length) ahead (a hint; no error if it cannot).
  void will_need(std::uint64_t offset, std::uint64_t length) const;

 private:
  void* address_ = nullptr;
  std::uint64_t size_bytes_ = 0;
  void* slot_ = nullptr;  ///< this mapping's entry for the SIGBUS handler (csv_reader.cpp)
};

}  // namespace omniseg::io
