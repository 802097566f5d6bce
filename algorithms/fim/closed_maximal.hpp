// algorithms/fim/closed_maximal.hpp — closed and maximal frequent itemsets.
//
// Owns: selecting, from the distributed canonical list of ALL frequent itemsets (pfp.hpp), the
// closed ones (no proper superset has the same support) or the maximal ones (no proper superset is
// frequent), returned in the same canonical form: consecutive blocks in rank order, so the result
// is the same list for any rank count. Does not own: mining (pfp.hpp) or writing results.
//
// Only supersets with one more item need looking at: if X ⊂ Z and sup(Z) = sup(X), then for any
// i in Z \ X, sup(X) >= sup(X ∪ {i}) >= sup(Z), so X ∪ {i} has X's support too; and if X has a
// frequent proper superset, each X ∪ {i} inside it is frequent. So every (k+1)-itemset Z "covers"
// each of its k-subsets Z \ {i}, and X stays iff no cover names it (maximal) or none names it with
// X's own support (closed).
//
// Split: two pure kernels — collect_covers (the distinct subsets a block of (k+1)-itemsets covers,
// each with the largest support seen) and mark_covered (which of a sorted block of k-itemsets the
// received records name) — and a driver (keep_closed_or_maximal: who sends which record to whom).
//
// Size limits. A list mined with max_size L holds the frequent itemsets of size <= L only, and
// closed / maximal are decided among the itemsets in the list. For sizes below L that is exact
// (their one-item extensions are all listed); every itemset of size L is kept, because its
// extensions were not mined. For exactly the closed (maximal) itemsets of size <= L, mine with
// max_size L + 1 and pass ClosedMaximalOptions::max_size = L, which drops size L + 1 afterwards.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "algorithms/fim/itemsets.hpp"
#include "algorithms/fim/pfp.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"

namespace omniseg::fim {

enum class CondensedKind {
  closed,   ///< no proper superset has the same support
  maximal,  ///< no proper superset is frequent (in the list)
};

struct ClosedMaximalOptions {
  CondensedKind kind = CondensedKind::closed;
  /// Itemsets larger than this are decided on but not returned (0: no limit). See "Size limits".
  std::uint32_t max_size = 0;
  /// Memory one rank spends on building and sending the cover records of one exchange. A level
  /// (itemset size) that needs more is exchanged in several rounds. A rank receives less than
  /// this per round on average, but up to ranks x this much.
  std::uint64_t cover_budget_bytes = std::uint64_t{64} << 20;
};

/// Cover records for k-itemsets, flat: record r is words[r * (k + 1), (r + 1) * (k + 1)): the
/// support of a (k+1)-itemset Z (the largest of several such Z), then the k items of the subset
/// Z \ {i} it covers, ascending.
struct CoverRecords {
  std::size_t subset_size = 0;  ///< k >= 1
  std::span<const std::uint64_t> words;

  [[nodiscard]] std::size_t size() const { return words.size() / (subset_size + 1); }
  [[nodiscard]] std::uint64_t superset_support(std::size_t r) const { return words[r * (subset_size + 1)]; }
  [[nodiscard]] std::span<const std::uint64_t> subset(std::size_t r) const {
    return words.subspan(r * (subset_size + 1) + 1, subset_size);
  }
};

/// Local kernel, pure. Itemsets [first, last) of `itemsets` all have k + 1 items. Returns one cover
/// record (CoverRecords layout) per distinct k-subset of them, carrying the largest support of the
/// itemsets there that contain it — enough for both kinds: X is non-closed iff the largest support
/// of its one-item extensions equals sup(X), as none has more. In order of first appearance.
std::vector<std::uint64_t> collect_covers(const ItemsetList<ItemId>& itemsets, std::size_t first,
                                          std::size_t last);

/// Local kernel, pure. Itemsets [first, last) of `itemsets` all have covers.subset_size items and
/// are in lexicographic order (as in the canonical list). Sets covered[i] = 1 for each itemset i
/// there that a record names — for `closed`, only where the record's support equals the itemset's.
/// `covered` has one entry per itemset of `itemsets`. Returns how many records contradict the list:
/// they name no itemset in the range, or carry a support above that of the subset they name.
std::uint64_t mark_covered(const ItemsetList<ItemId>& itemsets, std::size_t first, std::size_t last,
                           const CoverRecords& covers, CondensedKind kind,
                           std::vector<std::uint8_t>& covered);

/// Collective. `all` is this rank's block of the canonical list of all frequent itemsets (as
/// mine_frequent_itemsets returns it: non-empty itemsets; ranks may hold none; only `local` is
/// read, the other counts are passed through). Returns the closed or maximal ones as a canonical
/// list again, rebalanced into blocks of equal size (engine::BlockDistribution), with first_index,
/// total and by_size recomputed. Throws omniseg::Error on every rank if the input is not downward
/// closed (a subset of a listed itemset is missing, or has a smaller support). Times phase
/// "fim_closed_maximal".
FrequentItemsets keep_closed_or_maximal(const engine::Communicator& comm, const FrequentItemsets& all,
                                        const ClosedMaximalOptions& options, engine::PhaseTimers& timers);

}  // namespace omniseg::fim
