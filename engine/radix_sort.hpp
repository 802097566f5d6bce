// engine/radix_sort.hpp — a stable LSD radix sort of fixed-size records by a 64-bit key.
//
// Owns: sorting records by an unsigned 64-bit key that the caller derives from each record (a
// packed tuple, an id with its sign bit flipped), in linear time. One pass counts all eight byte
// digits at once; digits on which every key agrees are skipped, so keys that vary in their low
// three bytes (ids in a range of 16 million) cost three scatter passes whatever their magnitude.
// The caller passes the scratch buffer, so that repeated sorts reuse one allocation. Byte digits
// because they measured fastest here: on the 2-core benchmark machine 11-bit digits (fewer passes)
// and a first split into cache-sized parts (MSD, then LSD in cache) were both slower. Does not own:
// keys wider than 64 bits (sort stably by the low part first, then by the high part — LSD order),
// or the mapping of signed or composite keys to order-preserving unsigned ones (see sortable_bits).
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace omniseg::engine {

/// The order-preserving unsigned image of a signed integer: a < b iff sortable_bits(a) < sortable_bits(b).
constexpr std::uint64_t sortable_bits(std::int64_t value) {
  return static_cast<std::uint64_t>(value) ^ (std::uint64_t{1} << 63);
}

/// Sorts `data` stably by `key_of(record)` (a std::uint64_t), ascending. `scratch` is resized to
/// data.size() and holds the other buffer afterwards (its contents are unspecified): the sorted
/// records may end up in either allocation, and the two vectors are swapped when needed, so
/// pointers into `data` do not survive. `key_of` is called about (1 + passes) times per record and
/// must return the same key every time.
template <class T, class KeyOf>
void radix_sort(std::vector<T>& data, std::vector<T>& scratch, KeyOf key_of) {
  static_assert(std::is_trivially_copyable_v<T>, "radix_sort moves records as bytes");
  constexpr int digits = 8;
  constexpr std::size_t buckets = 256;
  const std::size_t n = data.size();
  if (n < 2) return;

  std::vector<std::array<std::uint64_t, buckets>> counts(digits);
  for (auto& c : counts) c.fill(0);
  for (const T& record : data) {
    const std::uint64_t key = key_of(record);
    for (int d = 0; d < digits; ++d) ++counts[static_cast<std::size_t>(d)][(key >> (8 * d)) & 0xff];
  }

  scratch.resize(n);
  T* from = data.data();
  T* to = scratch.data();
  bool in_scratch = false;
  for (int d = 0; d < digits; ++d) {
    auto& count = counts[static_cast<std::size_t>(d)];
    const int shift = 8 * d;
    // A digit on which every key agrees leaves the order as it is.
    if (count[(key_of(from[0]) >> shift) & 0xff] == n) continue;
    std::array<std::uint64_t, buckets> next{};
    std::uint64_t offset = 0;
    for (std::size_t b = 0; b < buckets; ++b) {
      next[b] = offset;
      offset += count[b];
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t key = key_of(from[i]);
      to[next[(key >> shift) & 0xff]++] = from[i];
    }
    std::swap(from, to);
    in_scratch = !in_scratch;
  }
  if (in_scratch) data.swap(scratch);
}

/// Sorts a vector of keys (see radix_sort).
inline void radix_sort(std::vector<std::uint64_t>& keys, std::vector<std::uint64_t>& scratch) {
  radix_sort(keys, scratch, [](std::uint64_t key) { return key; });
}

}  // namespace omniseg::engine
