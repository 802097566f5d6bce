// algorithms/fim/fp_growth.hpp — the local itemset miner: FP-growth on a compact array tree.
//
// Owns: mining one set of transactions on one rank. Pure and single-threaded: no communication.
// The tree is four flat arrays (item, count, parent, and nodes grouped by item), built level by
// level — paths grouped by their next item with one integer sort per level — so no node is ever a
// separate allocation and no child lookup is needed. Conditional trees reuse per-depth buffers. A tree that is a single path yields
// all its subsets directly.
#pragma once

#include <cstdint>
#include <span>

#include "algorithms/fim/itemsets.hpp"

namespace omniseg::fim {

struct MiningLimits {
  std::uint64_t min_support = 1;  ///< absolute: a set is frequent iff it is in >= min_support transactions
  std::uint32_t max_size = 0;     ///< largest itemset size reported; 0 means no limit
};

/// Seeds: mine only the itemsets whose least frequent item (highest rank) lies in
/// [first, last]. PFP gives each group of items its own seeds.
struct SeedRange {
  ItemRank first = 0;
  ItemRank last = ~ItemRank{0};
};

/// Receives the itemsets the miner finds, one call each, as they are found.
class ItemsetSink {
 public:
  virtual ~ItemsetSink() = default;
  /// `descending`: the itemset's ranks, largest first (the order the miner grows them in).
  virtual void add(std::span<const ItemRank> descending, std::uint64_t support) = 0;

 protected:
  ItemsetSink() = default;
  ItemsetSink(const ItemsetSink&) = default;
  ItemsetSink& operator=(const ItemsetSink&) = default;
};

/// Hands `out` every frequent itemset whose highest rank is a seed. `transactions` must hold every
/// transaction (or the prefix of it up to that item) that contains a seed item; each transaction
/// strictly ascending. Supports are exact.
void fp_growth(const RankedTransactions& transactions, const MiningLimits& limits, const SeedRange& seeds,
               ItemsetSink& out);

/// The same, appending each itemset to `out` with its ranks ascending.
void fp_growth(const RankedTransactions& transactions, const MiningLimits& limits, const SeedRange& seeds,
               ItemsetList<ItemRank>& out);

}  // namespace omniseg::fim
