// algorithms/fim/itemsets.hpp — the containers the itemset miner reads and writes.
//
// Owns: transactions and itemset lists in CSR form (offsets into one flat item array), so that
// millions of short sets cost one allocation each, not one per set. Does not own: mining
// (fp_growth.hpp) or distribution (pfp.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace omniseg::fim {

/// An item's position in the global frequency order: 0 is the most frequent item. Mining works
/// on ranks; original item ids come back only at output.
using ItemRank = std::uint32_t;

/// Sets of T in CSR form: set i is items[offsets[i], offsets[i+1]).
template <class T>
struct SetList {
  std::vector<std::uint64_t> offsets{0};
  std::vector<T> items;

  [[nodiscard]] std::size_t size() const { return offsets.size() - 1; }
  [[nodiscard]] bool empty() const { return size() == 0; }
  [[nodiscard]] std::span<const T> operator[](std::size_t i) const {
    return {items.data() + offsets[i], static_cast<std::size_t>(offsets[i + 1] - offsets[i])};
  }
  void push_back(std::span<const T> set) {
    items.insert(items.end(), set.begin(), set.end());
    offsets.push_back(items.size());
  }
  void clear() {
    offsets.assign(1, 0);
    items.clear();
  }
};

/// Transactions recoded to ranks, each strictly ascending (most frequent item first).
using RankedTransactions = SetList<ItemRank>;

/// Frequent itemsets with their exact supports (number of transactions containing the set).
template <class T>
struct ItemsetList {
  SetList<T> sets;
  std::vector<std::uint64_t> support;

  [[nodiscard]] std::size_t size() const { return support.size(); }
  void add(std::span<const T> items, std::uint64_t count) {
    sets.push_back(items);
    support.push_back(count);
  }
};

}  // namespace omniseg::fim
