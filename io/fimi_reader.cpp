#include "io/fimi_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "engine/block_distribution.hpp"
#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"

namespace omniseg::io {
namespace {

constexpr std::string_view utf8_byte_order_mark = "\xEF\xBB\xBF";
/// Any token this long or longer may exceed 2^64 - 1 (which has 20 digits): checked the slow way.
constexpr std::size_t digits_that_may_overflow = 20;
/// A low guess of the bytes an item takes in a FIMI file, to reserve the items' memory once.
constexpr std::size_t bytes_per_item_guess = 4;
/// Tokens quoted in error messages are cut here: a binary file's "token" can be megabytes.
constexpr std::size_t quoted_token_limit = 64;

/// What a byte means to the parser; one table lookup per byte keeps the loop branch-light.
enum class ByteClass : std::uint8_t { other, digit, separator, newline };

constexpr std::array<ByteClass, 256> byte_classes = [] {
  std::array<ByteClass, 256> classes{};
  for (char c = '0'; c <= '9'; ++c) classes[static_cast<unsigned char>(c)] = ByteClass::digit;
  // "\r" is a separator, so CRLF line ends and stray carriage returns need no special case.
  for (char c : {' ', '\t', '\r'}) classes[static_cast<unsigned char>(c)] = ByteClass::separator;
  classes['\n'] = ByteClass::newline;
  return classes;
}();

ByteClass class_of(char c) { return byte_classes[static_cast<unsigned char>(c)]; }

/// The token as it can appear in a one-line message: non-printable bytes escaped, cut if long.
std::string quoted(std::string_view token) {
  std::string text;
  for (std::size_t i = 0; i < token.size() && i < quoted_token_limit; ++i) {
    const auto byte = static_cast<unsigned char>(token[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      text += static_cast<char>(byte);
    } else {
      constexpr char hex[] = "0123456789abcdef";
      text += {'\\', 'x', hex[byte >> 4], hex[byte & 0xf]};
    }
  }
  if (token.size() > quoted_token_limit) text += "...";
  return "'" + text + "'";
}

[[noreturn, gnu::cold, gnu::noinline]] void throw_bad_token(const TextOrigin& origin,
                                                           std::uint64_t line_number, std::string_view token,
                                                           bool overflowed) {
  const std::string reason = overflowed ? "is beyond the largest item id, 18446744073709551615"
                                        : "is not a non-negative integer item id";
  throw InputError(std::string(origin.file_name) + ":" + std::to_string(line_number) + ": " + quoted(token) +
                   " " + reason);
}

/// The whole token that starts at `begin`: up to the next separator or line end.
std::string_view token_at(const char* begin, const char* end) {
  const char* token_end = begin;
  while (token_end != end && class_of(*token_end) != ByteClass::separator &&
         class_of(*token_end) != ByteClass::newline) {
    ++token_end;
  }
  return {begin, token_end};
}

/// Parses the item whose first digit is at `cursor` onto `items`; returns the byte after it.
const char* parse_item(const char* cursor, const char* end, const TextOrigin& origin,
                       std::uint64_t line_number, std::vector<std::uint64_t>& items) {
  const char* const token_begin = cursor;
  std::uint64_t value = 0;
  do {
    value = value * 10 + static_cast<std::uint64_t>(*cursor - '0');  // may wrap: checked below
    ++cursor;
  } while (cursor != end && class_of(*cursor) == ByteClass::digit);
  if (cursor != end && class_of(*cursor) == ByteClass::other) {
    throw_bad_token(origin, line_number, token_at(token_begin, end), false);
  }
  if (static_cast<std::size_t>(cursor - token_begin) >= digits_that_may_overflow) {
    const auto [parsed_end, error] = std::from_chars(token_begin, cursor, value);
    if (error != std::errc() || parsed_end != cursor) {
      throw_bad_token(origin, line_number, std::string_view(token_begin, cursor), true);
    }
  }
  items.push_back(value);
  return cursor;
}

/// Sorts and deduplicates items[first..]. FIMI files are usually sorted already: check first.
void normalise_transaction(std::vector<std::uint64_t>& items, std::size_t first) {
  bool strictly_increasing = true;
  for (std::size_t i = first + 1; i < items.size(); ++i) {
    if (items[i] <= items[i - 1]) {
      strictly_increasing = false;
      break;
    }
  }
  if (strictly_increasing) return;
  const auto begin = items.begin() + static_cast<std::ptrdiff_t>(first);
  std::sort(begin, items.end());
  items.erase(std::unique(begin, items.end()), items.end());
}

std::uint64_t count_newlines(std::string_view text) {
  std::uint64_t count = 0;
  const char* cursor = text.data();
  const char* const end = cursor + text.size();
  while (cursor != end) {
    const void* found = std::memchr(cursor, '\n', static_cast<std::size_t>(end - cursor));
    if (found == nullptr) break;
    ++count;
    cursor = static_cast<const char*>(found) + 1;
  }
  return count;
}

std::string system_message(int error_number) { return std::generic_category().message(error_number); }

/// A regular file open for reading; closes on destruction.
class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path)
      : path_(path), descriptor_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (descriptor_ < 0) {
      throw InputError("cannot open transaction file '" + path + "': " + system_message(errno));
    }
    // A throwing constructor runs no destructor: close the descriptor on the way out.
    const auto fail = [this](const std::string& message) {
      ::close(descriptor_);
      throw InputError(message);
    };
    struct stat status{};
    if (::fstat(descriptor_, &status) != 0) {
      fail("cannot inspect transaction file '" + path + "': " + system_message(errno));
    }
    if (!S_ISREG(status.st_mode)) fail("transaction file '" + path + "' is not a regular file");
    size_bytes_ = static_cast<std::uint64_t>(status.st_size);
  }
  ReadOnlyFile(ReadOnlyFile&& other) noexcept
      : path_(std::move(other.path_)),
        descriptor_(std::exchange(other.descriptor_, -1)),
        size_bytes_(other.size_bytes_) {}
  ReadOnlyFile& operator=(ReadOnlyFile&&) = delete;
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;
  ~ReadOnlyFile() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }

  [[nodiscard]] std::uint64_t size_bytes() const { return size_bytes_; }

  /// Appends the bytes [offset, offset + length) of the file to `buffer`.
  void append_bytes(std::uint64_t offset, std::uint64_t length, std::string& buffer) const {
    const std::size_t old_size = buffer.size();
    buffer.resize(old_size + length);
    char* destination = buffer.data() + old_size;
    while (length > 0) {
      // pread moves at most about 2 GiB per call on Linux: loop over partial reads.
      const ssize_t got = ::pread(descriptor_, destination, length, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw InputError("cannot read transaction file '" + path_ + "': " + system_message(errno));
      if (got == 0) {
        throw InputError("transaction file '" + path_ + "' ended early at byte " + std::to_string(offset) +
                         " (did it change while being read?)");
      }
      destination += got;
      offset += static_cast<std::uint64_t>(got);
      length -= static_cast<std::uint64_t>(got);
    }
  }

 private:
  std::string path_;
  int descriptor_ = -1;
  std::uint64_t size_bytes_ = 0;
};

/// The file as rank 0 saw it, adopted by all so that the byte ranges tile the same bytes.
struct FileLayout {
  std::uint64_t size_bytes = 0;
  std::uint64_t content_begin = 0;  ///< 3 after a byte order mark, else 0
};

FileLayout measure(const ReadOnlyFile& file) {
  FileLayout layout{.size_bytes = file.size_bytes(), .content_begin = 0};
  std::string head;
  file.append_bytes(0, std::min<std::uint64_t>(utf8_byte_order_mark.size(), layout.size_bytes), head);
  if (head == utf8_byte_order_mark) layout.content_begin = utf8_byte_order_mark.size();
  return layout;
}

/// The whole lines that start in this rank's byte range.
struct OwnedLines {
  std::string bytes;            ///< what was read; the lines are bytes[text_begin..]
  std::size_t text_begin = 0;
  std::uint64_t line_count = 0;
  [[nodiscard]] std::string_view text() const { return std::string_view(bytes).substr(text_begin); }
};

/// Reads the lines that start in [range.begin, range.end) of the file, through the end of the last
/// of them. A line starts at the content's first byte or right after a "\n".
OwnedLines read_owned_lines(const ReadOnlyFile& file, const FileLayout& layout, engine::RowRange range,
                            const FimiReadOptions& options) {
  OwnedLines owned;
  if (range.size() == 0) return owned;
  // One byte before the range tells whether a line starts at range.begin.
  const std::uint64_t read_begin = range.begin > layout.content_begin ? range.begin - 1 : range.begin;
  file.append_bytes(read_begin, range.end - read_begin, owned.bytes);
  const std::string_view in_range(owned.bytes);

  // `in_range[i]` is file byte read_begin + i; the "\n" that starts line p sits at p - 1.
  std::size_t first_start = 0;
  if (range.begin > layout.content_begin) {
    const std::size_t newline = in_range.find('\n');
    // A "\n" at the range's last byte starts a line in the next range, not here.
    if (newline == std::string_view::npos || newline + 1 >= in_range.size()) return {};
    first_start = newline + 1;
  }
  const std::string_view before_last_byte = in_range.substr(0, in_range.size() - 1);
  owned.line_count = 1 + count_newlines(before_last_byte.substr(first_start));
  owned.text_begin = first_start;

  // The last owned line ends at the first "\n" from the range's last byte on, or at the end of file.
  if (in_range.back() == '\n') return owned;
  const std::uint64_t chunk_bytes = std::max<std::uint64_t>(options.line_extension_chunk_bytes, 1);
  for (std::uint64_t position = range.end; position < layout.size_bytes;) {
    const std::size_t chunk_begin = owned.bytes.size();
    const std::uint64_t length = std::min(chunk_bytes, layout.size_bytes - position);
    file.append_bytes(position, length, owned.bytes);
    const std::size_t newline = std::string_view(owned.bytes).find('\n', chunk_begin);
    if (newline != std::string_view::npos) {
      owned.bytes.resize(newline + 1);
      break;
    }
    position += length;
  }
  return owned;
}

}  // namespace

void parse_fimi_text(std::string_view text, const TextOrigin& origin, TransactionCsr& out) {
  if (out.offsets.empty()) out.offsets.push_back(0);
  std::vector<std::uint64_t>& items = out.items;
  // Growing by doubling would copy and fault in the items about twice: reserve a guess instead.
  // Item ids of up to three digits plus a separator take 4 bytes; longer ids leave the excess
  // capacity untouched (so, for a large buffer, not resident).
  const std::size_t expected_items = items.size() + text.size() / bytes_per_item_guess;
  if (expected_items > items.capacity()) items.reserve(std::max(expected_items, 2 * items.capacity()));
  const auto finish_transaction = [&] {
    normalise_transaction(items, out.offsets.back());
    out.offsets.push_back(items.size());
  };
  const char* cursor = text.data();
  const char* const end = cursor + text.size();
  std::uint64_t line_number = origin.first_line_number;
  while (cursor != end) {
    switch (class_of(*cursor)) {
      case ByteClass::digit:
        cursor = parse_item(cursor, end, origin, line_number, items);
        break;
      case ByteClass::separator:
        ++cursor;
        break;
      case ByteClass::newline:
        finish_transaction();
        ++line_number;
        ++cursor;
        break;
      case ByteClass::other:
        throw_bad_token(origin, line_number, token_at(cursor, end), false);
    }
  }
  // A last line without its "\n" ends here too; a final "\n" starts no new line.
  if (!text.empty() && text.back() != '\n') finish_transaction();
}

TransactionCsr parse_fimi_text(std::string_view text, const TextOrigin& origin) {
  TransactionCsr transactions;
  parse_fimi_text(text, origin, transactions);
  return transactions;
}

TransactionShard read_fimi_transactions(const engine::Communicator& comm, const std::string& path,
                                        const FimiReadOptions& options) {
  // Every rank opens the file itself; rank 0's size and byte order mark decide the ranges.
  FileLayout layout;
  const ReadOnlyFile file = engine::collectively(comm, [&] {
    ReadOnlyFile opened(path);
    if (comm.is_root()) layout = measure(opened);
    return opened;
  });
  comm.broadcast(layout);

  const engine::RowRange content_range =
      engine::BlockDistribution(layout.size_bytes - layout.content_begin, comm.size()).range(comm.rank());
  const engine::RowRange byte_range{content_range.begin + layout.content_begin,
                                    content_range.end + layout.content_begin};
  const OwnedLines owned =
      engine::collectively(comm, [&] { return read_owned_lines(file, layout, byte_range, options); });

  // Lines are transactions, so the lines before this rank's first one give its global index and,
  // for error messages, its global line number. Known before parsing, so every message is final.
  TransactionShard shard;
  shard.first_global_transaction = comm.exclusive_prefix_sum(owned.line_count);
  shard.global_transactions = comm.allreduce(owned.line_count, engine::ReduceOp::sum);
  shard.local = engine::collectively(comm, [&] {
    TransactionCsr transactions;
    transactions.offsets.reserve(owned.line_count + 1);
    const TextOrigin origin{.file_name = path, .first_line_number = shard.first_global_transaction + 1};
    parse_fimi_text(owned.text(), origin, transactions);
    if (transactions.size() != owned.line_count) {
      throw std::logic_error("read_fimi_transactions: counted " + std::to_string(owned.line_count) +
                             " lines but parsed " + std::to_string(transactions.size()));
    }
    return transactions;
  });
  shard.global_item_occurrences = comm.allreduce(shard.local.item_occurrences(), engine::ReduceOp::sum);
  return shard;
}

}  // namespace omniseg::io
