#include "io/csv_reader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
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
// the boundary scan costs a few instructions per 64 bytes and a branch per line, not per byte.

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

struct ByteCounts {
  std::uint64_t quotes = 0;
  std::uint64_t newlines = 0;
};

/// Counts '"' and '\n' in `text`. Byte-wide counters summed 16 lanes at a time (no popcount: the
/// baseline x86-64 target has no instruction for it, and the library call is slower than this).
ByteCounts count_quotes_and_newlines(std::string_view text) {
  ByteCounts counts;
  const char* bytes = text.data();
  std::size_t at = 0;
#if defined(__SSE2__)
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i zero = _mm_setzero_si128();
  __m128i newline_total = zero, quote_total = zero;  // two 64-bit lanes each
  while (text.size() - at >= 16) {
    // A byte counter takes at most 255 increments; -1 per match, so subtract the compare mask.
    const std::size_t steps = std::min<std::size_t>((text.size() - at) / 16, 255);
    __m128i newline_counts = zero, quote_counts = zero;
    for (std::size_t step = 0; step < steps; ++step, at += 16) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + at));
      newline_counts = _mm_sub_epi8(newline_counts, _mm_cmpeq_epi8(chunk, newline));
      quote_counts = _mm_sub_epi8(quote_counts, _mm_cmpeq_epi8(chunk, quote));
    }
    newline_total = _mm_add_epi64(newline_total, _mm_sad_epu8(newline_counts, zero));
    quote_total = _mm_add_epi64(quote_total, _mm_sad_epu8(quote_counts, zero));
  }
  std::array<std::uint64_t, 2> lanes{};
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes.data()), newline_total);
  counts.newlines = lanes[0] + lanes[1];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes.data()), quote_total);
  counts.quotes = lanes[0] + lanes[1];
#endif
  for (; at < text.size(); ++at) {
    counts.newlines += bytes[at] == '\n' ? 1 : 0;
    counts.quotes += bytes[at] == '"' ? 1 : 0;
  }
  return counts;
}

void clear_records(CsvShard& shard) {
  shard.record_length.clear();
  shard.line_number.clear();
  shard.file_offset.clear();
  shard.global_records = 0;
}

void reserve_records(CsvShard& shard, std::uint64_t records) {
  shard.record_length.reserve(records);
  shard.line_number.reserve(records);
  shard.file_offset.reserve(records);
}

}  // namespace

// ---- the record boundary scan -------------------------------------------------------------------

namespace detail {

/// Finds records in a text that is scanned step by step (each step a longer prefix of it). Records
/// open at a given index and after every "\n" outside quotes whose next byte lies before
/// `owned_end`; the first "\n" outside quotes at or after `owned_end - 1` closes the last record and
/// ends the scan. Each record goes to the shard given to the step that closes it; positions in the
/// text are file offsets (the text is the whole file).
class RecordScanner {
 public:
  RecordScanner(std::size_t owned_end, bool inside_quotes, std::uint64_t line_number)
      : owned_end_(owned_end), inside_quotes_(inside_quotes), line_number_(line_number) {}

  /// Opens a record at `index`, which must be where the next scan() starts.
  void open_record_at(std::size_t index) { open(index, line_number_); }

  /// Scans text[from, text.size()), `from` being where the previous call stopped (or the start),
  /// appending the records it closes to `out`. Returns true once the scan is over: the last owned
  /// record closed, or no record open and the owned bytes passed.
  bool scan(std::string_view text, std::size_t from, CsvShard& out) {
    for (std::size_t base = from; base < text.size(); base += block_bytes) {
      if (!record_open_ && base >= owned_end_) return true;
      const BlockMasks masks = masks_at(text, base);
      // Most blocks hold no quote at all: then the state holds for the whole block.
      const std::uint64_t inside =
          (masks.quotes == 0 ? 0 : prefix_xor(masks.quotes)) ^ (inside_quotes_ ? ~std::uint64_t{0} : 0);
      // Every line end counts a line; only those outside quotes end records.
      std::uint64_t line = line_number_;
      for (std::uint64_t newlines = masks.newlines; newlines != 0; newlines &= newlines - 1) {
        ++line;
        const auto bit = static_cast<unsigned>(std::countr_zero(newlines));
        if (((inside >> bit) & 1) != 0) continue;
        const std::size_t newline = base + bit;
        if (record_open_) close(text, newline, out);
        if (newline + 1 >= owned_end_) {
          stop_position_ = newline;
          return true;
        }
        open(newline + 1, line);
      }
      inside_quotes_ = (inside >> 63) != 0;  // the state after the block's last (real) byte
      line_number_ = line;
    }
    return !record_open_ && text.size() >= owned_end_;
  }

  /// Closes the open record at the end of the file: it runs to the last byte, without a final
  /// line end (which can only be inside an unterminated quote).
  void close_at_end_of_file(std::string_view text, CsvShard& out) {
    std::size_t end = text.size();
    if (end > open_begin_ && text[end - 1] == '\n') --end;
    if (end > open_begin_ && text[end - 1] == '\r') --end;
    emit(end, out);
  }

  [[nodiscard]] bool record_open() const { return record_open_; }
  /// The "\n" that ended the scan, once scan() returned true after closing a record.
  [[nodiscard]] std::size_t stop_position() const { return stop_position_; }

 private:
  void open(std::size_t index, std::uint64_t line_number) {
    open_begin_ = index;
    open_line_ = line_number;
    record_open_ = true;
  }
  void close(std::string_view text, std::size_t newline, CsvShard& out) {
    std::size_t end = newline;
    if (end > open_begin_ && text[end - 1] == '\r') --end;
    emit(end, out);
  }
  void emit(std::size_t end, CsvShard& out) {
    out.record_length.push_back(end - open_begin_);
    out.line_number.push_back(open_line_);
    out.file_offset.push_back(open_begin_);
    record_open_ = false;
  }

  std::size_t owned_end_;
  bool inside_quotes_;
  std::uint64_t line_number_;  ///< line of the next byte to scan
  bool record_open_ = false;
  std::size_t open_begin_ = 0;
  std::uint64_t open_line_ = 0;
  std::size_t stop_position_ = 0;
};

}  // namespace detail

namespace {

using detail::RecordScanner;

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

/// Finds the header record of the whole file `content` and splits it into `names`.
FileLayout locate_header(std::string_view content, const std::string& file_name, char delimiter,
                         std::vector<std::string>& names) {
  const std::uint64_t content_begin = byte_order_mark_length(content);
  if (content.size() == content_begin) throw_empty_file(file_name);
  CsvShard header_record;
  RecordScanner scanner(content_begin + 1, false, 1);
  scanner.open_record_at(content_begin);
  const bool ended_by_newline = scanner.scan(content, content_begin, header_record);
  if (!ended_by_newline) scanner.close_at_end_of_file(content, header_record);
  const std::uint64_t header_end = ended_by_newline ? scanner.stop_position() + 1 : content.size();
  FileLayout layout{.size_bytes = content.size(), .data_begin = header_end, .data_first_line = 1};
  layout.data_first_line += count_quotes_and_newlines(content.substr(content_begin, header_end - content_begin)).newlines;

  std::vector<std::string_view> fields;
  CsvRecordSplitter splitter(delimiter);
  const std::string_view header = content.substr(content_begin, header_record.record_length.front());
  if (splitter.split(header, fields) != CsvRecordSplitter::Status::ok) {
    throw InputError(file_name + ":1: the header line has bad quoting (a quote inside an unquoted name, text after a "
                                 "closing quote, or an unterminated quote)");
  }
  names.assign(fields.begin(), fields.end());
  return layout;
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

// ---- MappedFile -------------------------------------------------------------------------------------

namespace {

/// Which file each live mapping shows, for the SIGBUS handler: fixed slots, so that the handler
/// reads them without locks or allocation. A slot is claimed by setting `begin` (after `length`
/// and `path`), released by clearing it.
struct MappingSlot {
  std::atomic<const char*> begin{nullptr};
  std::atomic<std::size_t> length{0};
  char path[480] = {};
};
std::array<MappingSlot, 64> mapping_slots;

void write_text(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  static_cast<void>(ignored);
}

/// A mapped file that shrinks under its reader faults with SIGBUS on the pages past its new end.
/// Async-signal-safe: names the file, ends the rank with the bad-input exit code; mpiexec or srun
/// then ends the other ranks (no hang).
extern "C" void report_shrunk_input(int, siginfo_t* info, void*) {
  const char* address = static_cast<const char*>(info->si_addr);
  const char* path = nullptr;
  for (auto& slot : mapping_slots) {
    const char* begin = slot.begin.load();
    if (begin != nullptr && address >= begin && address < begin + slot.length.load()) path = slot.path;
  }
  write_text("omniseg: input file '");
  write_text(path != nullptr ? path : "(unknown)");
  write_text("' was truncated while it was being read (SIGBUS): input files must not change while a job reads "
             "them; the job ends\n");
  ::_exit(exit_codes::bad_input);
}

void install_shrunk_input_handler() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_sigaction = report_shrunk_input;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_SIGINFO;
    return ::sigaction(SIGBUS, &action, nullptr) == 0;
  }();
  static_cast<void>(installed);
}

MappingSlot* register_mapping(const void* address, std::size_t length, const std::string& path) {
  for (auto& slot : mapping_slots) {
    const char* expected = nullptr;
    // Claim with a placeholder, fill in, then publish the address.
    if (!slot.begin.compare_exchange_strong(expected, reinterpret_cast<const char*>(1))) continue;
    const std::size_t copied = std::min(path.size(), sizeof slot.path - 1);
    std::memcpy(slot.path, path.data(), copied);
    slot.path[copied] = '\0';
    slot.length = length;
    slot.begin = static_cast<const char*>(address);
    return &slot;
  }
  return nullptr;  // more than 64 live mappings: the handler names no file
}

}  // namespace

MappedFile::MappedFile(const std::string& path, const std::string& what) {
  // The checks and their messages are RandomAccessFile's; the descriptor is not needed once mapped.
  const RandomAccessFile file(path, what);
  size_bytes_ = file.size_bytes();
  if (size_bytes_ == 0) return;  // mmap cannot map nothing
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) throw InputError("cannot open " + what + " '" + path + "': " + system_message(errno));
  void* const address = ::mmap(nullptr, size_bytes_, PROT_READ, MAP_PRIVATE, descriptor, 0);
  const int map_error = errno;
  ::close(descriptor);
  if (address == MAP_FAILED) {
    throw InputError("cannot map " + what + " '" + path + "' into memory: " + system_message(map_error));
  }
  address_ = address;
  install_shrunk_input_handler();
  slot_ = register_mapping(address_, size_bytes_, path);
}

MappedFile::~MappedFile() {
  if (slot_ != nullptr) static_cast<MappingSlot*>(slot_)->begin = nullptr;
  if (address_ != nullptr) ::munmap(address_, size_bytes_);
}

void MappedFile::will_need(std::uint64_t offset, std::uint64_t length) const {
  if (address_ == nullptr || length == 0) return;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t begin = offset / page * page;
  const std::uint64_t end = std::min(offset + length, size_bytes_);
  if (end <= begin) return;
  ::madvise(static_cast<char*>(address_) + begin, end - begin, MADV_WILLNEED);  // a hint: errors do not matter
}

// ---- the collective reader ------------------------------------------------------------------------

CsvShardReader::CsvShardReader(const engine::Communicator& comm, const std::string& path, const CsvReadOptions& options)
    : file_name_(path), chunk_bytes_(std::max<std::uint64_t>(options.scan_chunk_bytes, 1)) {
  // Every rank maps the file itself; rank 0 finds the header, and its view decides the ranges.
  FileLayout layout;
  file_ = engine::collectively(comm, [&] {
    auto mapped = std::make_shared<const MappedFile>(path, "CSV file");
    if (comm.is_root()) layout = locate_header(mapped->bytes(), path, options.delimiter, header_);
    return mapped;
  });
  text_ = file_->bytes();
  comm.broadcast(layout);
  std::uint64_t columns = header_.size();
  comm.broadcast(columns);
  header_.resize(columns);
  for (std::string& name : header_) comm.broadcast(name);

  engine::collectively(comm, [&] {
    if (layout.size_bytes != text_.size()) {
      throw InputError("CSV file '" + path + "' changed size while the ranks opened it");
    }
  });
  const engine::RowRange range = owned_byte_range(comm, layout, options);
  range_begin_ = range.begin;
  range_end_ = range.end;
  file_->will_need(range_begin_, range_end_ - range_begin_);
  const ByteCounts counts = count_quotes_and_newlines(text_.substr(range_begin_, range_end_ - range_begin_));

  // The parity of the quotes before the range says whether it starts inside a quoted field; the
  // newlines before it give its line numbers. Both are exact, whatever the split.
  const bool starts_inside_quotes = (comm.exclusive_prefix_sum(counts.quotes) & 1) != 0;
  const std::uint64_t first_line = layout.data_first_line + comm.exclusive_prefix_sum(counts.newlines);
  if (range.size() == 0) return;
  max_records_ = counts.newlines + 1;
  scanner_ = std::make_unique<detail::RecordScanner>(range_end_, starts_inside_quotes, first_line);
  // One byte before the range tells whether a record starts at its first byte.
  if (range_begin_ == layout.data_begin || (text_[range_begin_ - 1] == '\n' && !starts_inside_quotes)) {
    scanner_->open_record_at(range_begin_);
  }
  position_ = range_begin_;
  done_ = false;
}

CsvShardReader::CsvShardReader(CsvShardReader&&) noexcept = default;
CsvShardReader& CsvShardReader::operator=(CsvShardReader&&) noexcept = default;
CsvShardReader::~CsvShardReader() = default;

bool CsvShardReader::scan_step(CsvShard& out) {
  if (done_ || scanner_ == nullptr) return false;  // (a moved-from reader has no scanner)
  const std::uint64_t limit = std::min<std::uint64_t>(text_.size(), position_ + chunk_bytes_);
  bool over = scanner_->scan(text_.substr(0, limit), position_, out);
  position_ = limit;
  if (!over && limit == text_.size()) {
    // The last record runs to the end of the file (no final newline, or an unterminated quote).
    if (scanner_->record_open()) scanner_->close_at_end_of_file(text_, out);
    over = true;
  }
  done_ = over;
  return !done_;
}

bool CsvShardReader::next_batch(CsvShard& batch) {
  clear_records(batch);
  batch.file_name = file_name_;
  batch.header = header_;
  batch.text = text_;
  batch.text_owner = file_;
  while (batch.size() == 0 && scan_step(batch)) {
  }
  if (batch.size() > 0) return true;
  batch.text = {};
  batch.text_owner.reset();
  return false;
}

void read_csv_shard(const engine::Communicator& comm, const std::string& path, CsvShard& shard,
                    const CsvReadOptions& options) {
  shard.file_name = path;
  shard.header.clear();
  clear_records(shard);
  CsvShardReader reader(comm, path, options);
  shard.header = reader.header();
  shard.text = reader.text_;
  shard.text_owner = reader.file_;
  reserve_records(shard, reader.max_records());
  while (reader.scan_step(shard)) {
  }
  shard.global_records = comm.allreduce(shard.size(), engine::ReduceOp::sum);
}

void split_csv_content(std::string_view content, const std::string& file_name, CsvShard& shard, char delimiter) {
  shard.file_name = file_name;
  shard.header.clear();
  clear_records(shard);
  auto copy = std::make_shared<const std::string>(content);
  shard.text = *copy;
  shard.text_owner = std::move(copy);
  const FileLayout layout = locate_header(shard.text, file_name, delimiter, shard.header);
  RecordScanner scanner(shard.text.size(), false, layout.data_first_line);
  if (layout.data_begin < shard.text.size()) {
    scanner.open_record_at(layout.data_begin);
    if (!scanner.scan(shard.text, layout.data_begin, shard)) scanner.close_at_end_of_file(shard.text, shard);
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
  const Status status = split(record);
  fields.assign(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(field_count_));
  return status;
}

CsvRecordSplitter::Status CsvRecordSplitter::split(std::string_view record) {
  // A record of n bytes has at most n + 1 fields: room for all of them first.
  if (buffer_.size() <= record.size()) buffer_.resize(std::max(record.size() + 1, 2 * buffer_.size()));
  std::string_view* out = buffer_.data();
  const char* const bytes = record.data();
  const std::size_t size = record.size();
  std::size_t field_begin = 0;
  std::size_t at = 0;
  // Fast path: records without quotes split at every delimiter. A quote anywhere sends the whole
  // record to the careful path (rare in machine-written files).
#if defined(__SSE2__)
  if (size >= 16) {
    // 16 bytes at a time; the last step loads the record's last 16 bytes and ignores those already
    // seen, so that no byte goes through a scalar tail loop.
    const __m128i delimiter = _mm_set1_epi8(delimiter_);
    const __m128i quote = _mm_set1_epi8('"');
    for (;;) {
      const bool last = at + 16 >= size;
      const std::size_t load_at = last ? size - 16 : at;
      const std::uint32_t unseen = last ? ~std::uint32_t{0} << (at - load_at) : ~std::uint32_t{0};
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + load_at));
      if ((static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, quote))) & unseen) != 0) {
        return split_quoted(record, buffer_.data());
      }
      auto delimiters = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, delimiter))) & unseen;
      for (; delimiters != 0; delimiters &= delimiters - 1) {
        const std::size_t position = load_at + static_cast<std::size_t>(std::countr_zero(delimiters));
        *out++ = std::string_view(bytes + field_begin, position - field_begin);
        field_begin = position + 1;
      }
      if (last) break;
      at += 16;
    }
    *out++ = std::string_view(bytes + field_begin, size - field_begin);
    field_count_ = static_cast<std::size_t>(out - buffer_.data());
    return Status::ok;
  }
#endif
  for (; at < size; ++at) {
    const char c = bytes[at];
    if (c == '"') return split_quoted(record, buffer_.data());
    if (c == delimiter_) {
      *out++ = std::string_view(bytes + field_begin, at - field_begin);
      field_begin = at + 1;
    }
  }
  *out++ = std::string_view(bytes + field_begin, size - field_begin);
  field_count_ = static_cast<std::size_t>(out - buffer_.data());
  return Status::ok;
}

CsvRecordSplitter::Status CsvRecordSplitter::split_quoted(std::string_view record, std::string_view* const out) {
  // Every exit leaves the fields split so far in fields().
  field_count_ = 0;
  const auto emit = [&](std::string_view field) { out[field_count_++] = field; };
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
        emit(std::string_view(scratch_.data() + unescaped_begin, scratch_.size() - unescaped_begin));
      } else {
        emit(content);
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
      emit(record.substr(field_begin, at - field_begin));
      if (at == size) return Status::ok;
      ++at;
    }
  }
}

// ---- columns -------------------------------------------------------------------------------------

std::vector<std::size_t> map_columns(const std::string& file_name, std::span<const std::string> header,
                                     std::span<const std::pair<std::string, std::string>> columns) {
  std::vector<std::size_t> indices;
  indices.reserve(columns.size());
  for (const auto& [role, name] : columns) {
    const auto found = std::ranges::find(header, name);
    if (found == header.end()) {
      std::string have;
      for (const auto& column : header) have += (have.empty() ? "" : ", ") + column;
      throw InputError(file_name + ": missing column '" + name + "' (role " + role + "); the header has: " + have);
    }
    const auto count = std::ranges::count(header, name);
    if (count > 1) {
      throw InputError(file_name + ": column '" + name + "' (role " + role + ") appears " +
                       std::to_string(count) + " times in the header");
    }
    indices.push_back(static_cast<std::size_t>(found - header.begin()));
  }
  return indices;
}

}  // namespace omniseg::io
