// algorithms/rules/association_rules.hpp — association rules from distributed frequent itemsets.
//
// Owns: what crosses ranks when rules X -> Y are drawn from the frequent itemsets Z = X u Y that
// PFP left in consecutive blocks of the canonical list (algorithms/fim/pfp.hpp). (1) A support
// directory: every itemset, with its support and canonical index, goes to the rank that owns a hash
// of its items, so no rank holds more than its share. (2) Lookup rounds: each rank grows the
// consequents of its own itemsets level by level (rule_kernel.hpp) and asks the directory, one
// all-to-all per level, for the supports of the antecedents it needs and of the consequents of
// rules that passed the confidence threshold. (3) Order: rules as (antecedent index, consequent
// index) pairs sorted into consecutive blocks (engine/distributed_sort.hpp), so the concatenation
// over the ranks is the canonical list for any rank count; with a top-N limit, first sorted by
// lift to select. (4) The items of each rule fetched by canonical index from the itemsets' ranks.
// Does not own: the metric formulas and consequent growth (rule_kernel.hpp), files.
#pragma once

#include <cstdint>
#include <vector>

#include "algorithms/fim/itemsets.hpp"
#include "algorithms/fim/pfp.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"

namespace omniseg::rules {

struct RuleOptions {
  double min_confidence = 1;  ///< keep rules with confidence >= this; in (0, 1]
  double min_lift = 0;        ///< keep rules with lift >= this; 0: no lift filter
  std::uint64_t top = 0;      ///< keep only the `top` rules of highest lift; 0: all
  /// Bounds the memory of a lookup round: a rank starts the rules of another itemset only while
  /// fewer candidate splits than this wait for their antecedent supports.
  std::uint64_t max_candidates_per_round = std::uint64_t{1} << 20;
};

/// Throws InputError unless 0 < min_confidence <= 1, min_lift >= 0 (finite) and
/// max_candidates_per_round >= 1.
void check_rule_options(const RuleOptions& options);

/// This rank's consecutive block of the canonical list of rules, with global facts. Canonical order:
/// by antecedent in canonical itemset order (size, then items), then by consequent in the same
/// order. Column i of every vector is rule i of the block.
struct AssociationRules {
  fim::SetList<fim::ItemId> antecedents;     ///< items ascending
  fim::SetList<fim::ItemId> consequents;     ///< items ascending
  std::vector<std::uint64_t> support_count;  ///< sup(X u Y): transactions containing both sides
  std::vector<double> support;               ///< sup(X u Y) / N
  std::vector<double> confidence;            ///< sup(X u Y) / sup(X)
  std::vector<double> lift;                  ///< confidence / (sup(Y) / N)
  std::vector<double> leverage;              ///< sup(X u Y) / N - (sup(X) / N) * (sup(Y) / N)
  std::uint64_t first_index = 0;             ///< global index of this block's first rule
  std::uint64_t total = 0;                   ///< rules on all ranks
  std::uint64_t candidates = 0;              ///< splits whose confidence was computed (all ranks)
  std::uint64_t confident = 0;               ///< rules with enough confidence, before lift and top
  std::uint64_t lookup_rounds = 0;           ///< directory round trips

  [[nodiscard]] std::size_t size() const { return support_count.size(); }
};

/// Collective. Every rule X -> Y with X u Y a frequent itemset of `itemsets` (|X u Y| >= 2, X and Y
/// disjoint and non-empty), confidence >= min_confidence and lift >= min_lift; with `top` > 0 only
/// the `top` rules of highest lift (ties: the earlier rule in canonical order), still listed in
/// canonical order. Metrics are computed from exact supports by rule_metrics(), so they are
/// bitwise identical for any rank count. `itemsets` must be downward closed (every subset of a
/// listed itemset listed, as PFP's output is); a missing subset is an Error on every rank.
/// Checks `options` (check_rule_options) first. Times its phases in `timers`.
AssociationRules generate_rules(const engine::Communicator& comm, const fim::FrequentItemsets& itemsets,
                                const RuleOptions& options, engine::PhaseTimers& timers);

}  // namespace omniseg::rules
