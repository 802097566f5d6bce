// engine/hash_partition.hpp — which rank owns a key.
//
// Owns: the hash that spreads keys over ranks. The same key goes to the same rank on every rank
// (a pure function of the key and the rank count), and nearby keys (consecutive ids) spread evenly.
#pragma once

#include <cstdint>
#include <string_view>

namespace omniseg::engine {

/// A 64-bit mix (SplitMix64's finaliser): every input bit affects every output bit.
constexpr std::uint64_t mix64(std::uint64_t key) {
  key ^= key >> 30;
  key *= 0xbf58476d1ce4e5b9ULL;
  key ^= key >> 27;
  key *= 0x94d049bb133111ebULL;
  key ^= key >> 31;
  return key;
}

/// The rank in [0, ranks) that owns `key`.
constexpr int owner_of(std::uint64_t key, int ranks) {
  // Multiply-shift maps the mixed key to [0, ranks) without the bias of a modulo by non-powers of 2.
  const std::uint64_t mixed = mix64(key);
  const std::uint64_t high = (mixed >> 32) * static_cast<std::uint64_t>(ranks);
  return static_cast<int>(high >> 32);
}

}  // namespace omniseg::engine
