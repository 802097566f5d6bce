// engine/hash_partition.hpp — which rank owns a key.
//
// Owns: the hash that spreads keys over ranks, and grouping records by destination rank. The same key goes to the same rank on every rank
// (a pure function of the key and the rank count), and nearby keys (consecutive ids) spread evenly.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

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

/// Records grouped by destination rank, as an all-to-all send buffer wants them.
struct DestinationGroups {
  std::vector<int> destination;             ///< per record
  std::vector<std::uint64_t> order;         ///< record ids rank by rank (ascending within a rank)
  std::vector<std::uint64_t> record_counts; ///< per rank
};

/// Groups records 0 .. records-1 by `destination_of(id)` (a rank in [0, ranks)) with a counting
/// sort: stable, linear.
template <class DestinationOf>
DestinationGroups group_by_destination(std::uint64_t records, int ranks, DestinationOf destination_of) {
  DestinationGroups groups;
  groups.record_counts.assign(static_cast<std::size_t>(ranks), 0);
  groups.destination.resize(records);
  for (std::uint64_t id = 0; id < records; ++id) {
    groups.destination[id] = destination_of(id);
    ++groups.record_counts[static_cast<std::size_t>(groups.destination[id])];
  }
  std::vector<std::uint64_t> next(groups.record_counts.size(), 0);
  std::exclusive_scan(groups.record_counts.begin(), groups.record_counts.end(), next.begin(), std::uint64_t{0});
  groups.order.resize(records);
  for (std::uint64_t id = 0; id < records; ++id) groups.order[next[static_cast<std::size_t>(groups.destination[id])]++] = id;
  return groups;
}

}  // namespace omniseg::engine
