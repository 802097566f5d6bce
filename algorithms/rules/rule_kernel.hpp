// algorithms/rules/rule_kernel.hpp — the single-rank pieces of association-rule generation.
//
// Owns: the rule metrics computed from exact integer supports (one function, so every rank and
// every rank count gets the same bits); the level-wise growth of consequents inside one frequent
// itemset (ap-genrules: a consequent of size k + 1 is a candidate only if all its size-k subsets
// gave confident rules, which is exact because confidence can only fall as items move from the
// antecedent to the consequent); splitting an itemset by consequent positions; the hash of an item
// sequence and a hash table of itemsets. Pure and single-rank: no communicator.
// Does not own: which rank holds which itemset or what crosses ranks (association_rules.hpp).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "algorithms/fim/itemsets.hpp"
#include "algorithms/fim/pfp.hpp"

namespace omniseg::rules {

using fim::ItemId;

/// A position inside one itemset (0 = its smallest item).
using ItemPosition = std::uint32_t;

// ---- metrics -------------------------------------------------------------------------------------

/// The exact supports behind a rule X -> Y drawn from Z = X u Y.
struct RuleSupports {
  std::uint64_t itemset = 0;       ///< sup(Z): transactions containing X and Y
  std::uint64_t antecedent = 0;    ///< sup(X)
  std::uint64_t consequent = 0;    ///< sup(Y)
  std::uint64_t transactions = 0;  ///< N
};

struct RuleMetrics {
  double support = 0;     ///< sup(Z) / N
  double confidence = 0;  ///< sup(Z) / sup(X)
  double lift = 0;        ///< confidence / (sup(Y) / N)
  double leverage = 0;    ///< sup(Z) / N - (sup(X) / N) * (sup(Y) / N)
  friend bool operator==(const RuleMetrics&, const RuleMetrics&) = default;
};

/// sup(Z) / sup(X) as the one division every caller uses (filters and reports agree bit for bit).
/// Never rises as sup(X) grows, which is what makes consequent pruning exact in floating point too.
[[nodiscard]] double rule_confidence(std::uint64_t itemset_support, std::uint64_t antecedent_support);

/// All four metrics, each from the exact supports by a fixed sequence of IEEE operations.
/// Requires antecedent, consequent and transactions > 0.
[[nodiscard]] RuleMetrics rule_metrics(const RuleSupports& supports);

// ---- consequent growth inside one itemset --------------------------------------------------------

/// Consequents as ascending position lists (CSR), in lexicographic order.
using Consequents = fim::SetList<ItemPosition>;

/// The consequents of size 1 of an itemset of `itemset_size` items: {0}, {1}, ...
[[nodiscard]] Consequents first_level_consequents(std::size_t itemset_size);

/// The candidates of size k + 1 from the `confident` consequents of size k (lexicographic order,
/// all the same size k >= 1): unions of two confident consequents that share their first k - 1
/// positions, kept only when every size-k subset is confident. The result is in lexicographic order.
[[nodiscard]] Consequents next_level_consequents(const Consequents& confident);

/// Splits `itemset` into the items at `consequent_positions` (ascending) and the rest; both outputs
/// are cleared first and come out ascending when `itemset` is.
void split_itemset(std::span<const ItemId> itemset, std::span<const ItemPosition> consequent_positions,
                   std::vector<ItemId>& antecedent, std::vector<ItemId>& consequent);

// ---- itemsets as hash keys -----------------------------------------------------------------------

/// A 64-bit hash of an item sequence (order and length matter); the same on every rank.
[[nodiscard]] std::uint64_t itemset_hash(std::span<const ItemId> items);

/// A set of itemsets, each given a dense id (0, 1, ... in insertion order), found again by its
/// items. Open addressing over stored hashes; items are stored once, in CSR form.
class ItemsetTable {
 public:
  static constexpr std::uint64_t not_found = ~std::uint64_t{0};

  /// The id of `items`, inserting it if new.
  std::uint64_t insert(std::span<const ItemId> items) { return insert(items, itemset_hash(items)); }
  /// As above with the hash already known (it must be itemset_hash(items)).
  std::uint64_t insert(std::span<const ItemId> items, std::uint64_t hash);
  /// The id of `items`, or not_found.
  [[nodiscard]] std::uint64_t find(std::span<const ItemId> items) const;

  [[nodiscard]] std::size_t size() const { return sets_.size(); }
  [[nodiscard]] std::span<const ItemId> operator[](std::uint64_t id) const { return sets_[id]; }
  [[nodiscard]] std::uint64_t hash(std::uint64_t id) const { return hashes_[id]; }
  /// Forgets every itemset but keeps the memory.
  void clear();

 private:
  [[nodiscard]] std::uint64_t probe(std::span<const ItemId> items, std::uint64_t hash) const;
  void grow();

  fim::SetList<ItemId> sets_;
  std::vector<std::uint64_t> hashes_;
  std::vector<std::uint64_t> slots_;  ///< id + 1, or 0 for an empty slot; size a power of two
};

}  // namespace omniseg::rules
