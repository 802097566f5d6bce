// engine/string_column.hpp — variable-length strings stored as one offsets array and one byte buffer.
//
// Owns: the column layout the shuffle and the hash join move (offsets + bytes: a whole column is two
// memcpy-able buffers, rows cost no allocation of their own), bulk appends of received blocks, and
// hash_bytes, the stable 64-bit string hash every rank agrees on. Does not own: what the strings
// mean (keys, names) or any transport (engine/shuffle.hpp moves columns between ranks).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace omniseg::engine {

/// Strings of any length (empty and with NUL bytes included) back to back in one byte buffer;
/// row r is bytes()[offsets()[r], offsets()[r + 1]).
class StringColumn {
 public:
  StringColumn() : offsets_{0} {}
  StringColumn(const StringColumn&) = default;
  StringColumn& operator=(const StringColumn&) = default;
  // A moved-from column is empty and usable (offsets always hold the leading 0).
  StringColumn(StringColumn&& other) noexcept
      : offsets_(std::exchange(other.offsets_, {})), bytes_(std::move(other.bytes_)) {
    other.restore_leading_zero();
    restore_leading_zero();
  }
  StringColumn& operator=(StringColumn&& other) noexcept {
    if (this != &other) {
      offsets_ = std::exchange(other.offsets_, {});
      bytes_ = std::move(other.bytes_);
      other.bytes_.clear();
      other.restore_leading_zero();
      restore_leading_zero();
    }
    return *this;
  }
  ~StringColumn() = default;

  /// Rows.
  [[nodiscard]] std::size_t size() const { return offsets_.size() - 1; }
  [[nodiscard]] bool empty() const { return size() == 0; }
  [[nodiscard]] std::string_view operator[](std::size_t row) const {
    const std::uint64_t begin = offsets_[row];
    return {bytes_.data() + begin, static_cast<std::size_t>(offsets_[row + 1] - begin)};
  }
  [[nodiscard]] std::uint64_t length(std::size_t row) const { return offsets_[row + 1] - offsets_[row]; }

  void push_back(std::string_view text) {
    bytes_.insert(bytes_.end(), text.begin(), text.end());
    offsets_.push_back(bytes_.size());
  }
  /// Capacity for `rows` rows holding `bytes` bytes in all.
  void reserve(std::size_t rows, std::size_t bytes) {
    offsets_.reserve(rows + 1);
    bytes_.reserve(bytes);
  }
  /// Removes every row; keeps the capacity.
  void clear() {
    offsets_.resize(1);
    bytes_.clear();
  }

  /// size() + 1 entries, front() == 0, back() == byte_size().
  [[nodiscard]] std::span<const std::uint64_t> offsets() const { return offsets_; }
  [[nodiscard]] std::span<const char> bytes() const { return bytes_; }
  [[nodiscard]] std::uint64_t byte_size() const { return bytes_.size(); }

  // ---- bulk fills, for the shuffle and the join (no per-row work beyond one prefix sum) ---------

  /// Appends rows whose lengths are `lengths` and whose bytes are `bytes`, back to back
  /// (sum(lengths) == bytes.size()).
  void append_block(std::span<const std::uint64_t> lengths, std::span<const char> bytes) {
    std::uint64_t end = bytes_.size();
    const std::size_t first = offsets_.size();
    offsets_.resize(first + lengths.size());
    for (std::size_t i = 0; i < lengths.size(); ++i) offsets_[first + i] = end += lengths[i];
    if (end != bytes_.size() + bytes.size()) {
      offsets_.resize(first);
      throw std::invalid_argument("StringColumn::append_block: the lengths do not add up to the bytes");
    }
    bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  }
  /// Sizes the column to `rows` rows and `bytes` bytes whose contents the caller then writes
  /// through fill_offsets() / fill_bytes() (reusing capacity, without touching the bytes twice).
  /// The writer must leave the offsets ascending from 0 to `bytes`.
  void resize_for_fill(std::size_t rows, std::uint64_t bytes) {
    offsets_.resize(rows + 1);
    offsets_[0] = 0;
    bytes_.resize(bytes);
  }
  [[nodiscard]] std::span<std::uint64_t> fill_offsets() { return offsets_; }
  [[nodiscard]] std::span<char> fill_bytes() { return bytes_; }

  friend bool operator==(const StringColumn& a, const StringColumn& b) {
    return a.offsets_ == b.offsets_ && a.bytes_ == b.bytes_;
  }

 private:
  void restore_leading_zero() {
    if (offsets_.empty()) offsets_.push_back(0);
  }

  std::vector<std::uint64_t> offsets_;
  std::vector<char> bytes_;
};

namespace detail {

/// Little-endian load of 8 bytes, so that the hash is the same on every platform.
inline std::uint64_t load_le64(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, 8);
  if constexpr (std::endian::native == std::endian::big) {
    word = ((word & 0x00000000000000ffULL) << 56) | ((word & 0x000000000000ff00ULL) << 40) |
           ((word & 0x0000000000ff0000ULL) << 24) | ((word & 0x00000000ff000000ULL) << 8) |
           ((word & 0x000000ff00000000ULL) >> 8) | ((word & 0x0000ff0000000000ULL) >> 24) |
           ((word & 0x00ff000000000000ULL) >> 40) | ((word & 0xff00000000000000ULL) >> 56);
  }
  return word;
}

/// 64x64 -> 128-bit multiply folded to 64 bits: a strong, cheap mixing step (as in wyhash).
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) {
  __extension__ typedef unsigned __int128 Wide;
  const Wide product = static_cast<Wide>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

}  // namespace detail

/// A stable 64-bit hash of bytes: the same value on every rank, run and platform (unlike
/// std::hash). Two 8-byte words per folded multiply; the length is mixed in, so "a" and "a\0"
/// differ. Good enough to partition rows and to index hash tables; not cryptographic.
inline std::uint64_t hash_bytes(std::string_view bytes) {
  constexpr std::uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL, k2 = 0x8ebc6af09c88c6e3ULL;
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  std::uint64_t state = k0 ^ (static_cast<std::uint64_t>(left) * k2);
  while (left > 16) {
    state = detail::fold_multiply(detail::load_le64(p) ^ k1, detail::load_le64(p + 8) ^ state);
    p += 16;
    left -= 16;
  }
  // The last 1..16 bytes as two (possibly overlapping) words; an empty string leaves both 0.
  std::uint64_t a = 0, b = 0;
  if (left >= 8) {
    a = detail::load_le64(p);
    b = detail::load_le64(p + left - 8);
  } else if (left > 0) {
    for (std::size_t i = 0; i < left; ++i) a |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return detail::fold_multiply(state ^ a ^ k2, b ^ k1 ^ static_cast<std::uint64_t>(bytes.size()));
}

}  // namespace omniseg::engine
