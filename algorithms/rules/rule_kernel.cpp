#include "algorithms/rules/rule_kernel.hpp"

#include <algorithm>

#include "engine/hash_partition.hpp"

namespace omniseg::rules {
namespace {

/// Index of `key` in the lexicographically sorted `sets`, or sets.size() if absent.
std::size_t find_sorted(const Consequents& sets, std::span<const ItemPosition> key) {
  std::size_t low = 0, high = sets.size();
  while (low < high) {
    const std::size_t middle = low + (high - low) / 2;
    const auto set = sets[middle];
    if (std::lexicographical_compare(set.begin(), set.end(), key.begin(), key.end())) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low < sets.size() && std::ranges::equal(sets[low], key) ? low : sets.size();
}

}  // namespace

// ---- metrics -------------------------------------------------------------------------------------

double rule_confidence(std::uint64_t itemset_support, std::uint64_t antecedent_support) {
  return static_cast<double>(itemset_support) / static_cast<double>(antecedent_support);
}

RuleMetrics rule_metrics(const RuleSupports& supports) {
  const auto n = static_cast<double>(supports.transactions);
  RuleMetrics metrics;
  metrics.support = static_cast<double>(supports.itemset) / n;
  metrics.confidence = rule_confidence(supports.itemset, supports.antecedent);
  const double consequent_share = static_cast<double>(supports.consequent) / n;
  const double antecedent_share = static_cast<double>(supports.antecedent) / n;
  metrics.lift = metrics.confidence / consequent_share;
  metrics.leverage = metrics.support - antecedent_share * consequent_share;
  return metrics;
}

// ---- consequent growth ---------------------------------------------------------------------------

Consequents first_level_consequents(std::size_t itemset_size) {
  Consequents consequents;
  consequents.items.reserve(itemset_size);
  consequents.offsets.reserve(itemset_size + 1);
  for (std::size_t position = 0; position < itemset_size; ++position) {
    const auto item = static_cast<ItemPosition>(position);
    consequents.push_back(std::span(&item, 1));
  }
  return consequents;
}

Consequents next_level_consequents(const Consequents& confident) {
  Consequents candidates;
  if (confident.empty()) return candidates;
  const std::size_t k = confident[0].size();
  std::vector<ItemPosition> candidate(k + 1), subset(k);
  // Consequents sharing their first k - 1 positions are adjacent in lexicographic order.
  for (std::size_t run_begin = 0; run_begin < confident.size();) {
    const auto prefix = confident[run_begin].first(k - 1);
    std::size_t run_end = run_begin + 1;
    while (run_end < confident.size() && std::ranges::equal(confident[run_end].first(k - 1), prefix)) {
      ++run_end;
    }
    for (std::size_t i = run_begin; i < run_end; ++i) {
      for (std::size_t j = i + 1; j < run_end; ++j) {
        std::ranges::copy(confident[i], candidate.begin());
        candidate[k] = confident[j][k - 1];
        // Dropping either of the last two positions gives confident[i] or confident[j]; check the
        // other size-k subsets.
        bool all_confident = true;
        for (std::size_t dropped = 0; dropped + 2 <= k && all_confident; ++dropped) {
          std::copy(candidate.begin(), candidate.begin() + static_cast<std::ptrdiff_t>(dropped),
                    subset.begin());
          std::copy(candidate.begin() + static_cast<std::ptrdiff_t>(dropped + 1), candidate.end(),
                    subset.begin() + static_cast<std::ptrdiff_t>(dropped));
          all_confident = find_sorted(confident, subset) != confident.size();
        }
        if (all_confident) candidates.push_back(candidate);
      }
    }
    run_begin = run_end;
  }
  return candidates;
}

void split_itemset(std::span<const ItemId> itemset, std::span<const ItemPosition> consequent_positions,
                   std::vector<ItemId>& antecedent, std::vector<ItemId>& consequent) {
  antecedent.clear();
  consequent.clear();
  std::size_t next = 0;  // the next consequent position to meet
  for (std::size_t position = 0; position < itemset.size(); ++position) {
    if (next < consequent_positions.size() && consequent_positions[next] == position) {
      consequent.push_back(itemset[position]);
      ++next;
    } else {
      antecedent.push_back(itemset[position]);
    }
  }
}

// ---- itemset hash table --------------------------------------------------------------------------

std::uint64_t itemset_hash(std::span<const ItemId> items) {
  constexpr std::uint64_t golden = 0x9e3779b97f4a7c15ULL;  // keeps a zero state from absorbing items
  std::uint64_t hash = engine::mix64(golden * (items.size() + 1));
  for (const ItemId item : items) hash = engine::mix64(hash ^ item) + golden;
  return hash;
}

std::uint64_t ItemsetTable::probe(std::span<const ItemId> items, std::uint64_t hash) const {
  const std::uint64_t mask = slots_.size() - 1;
  for (std::uint64_t slot = hash & mask;; slot = (slot + 1) & mask) {
    const std::uint64_t held = slots_[slot];
    if (held == 0) return slot;
    if (hashes_[held - 1] == hash && std::ranges::equal(sets_[held - 1], items)) return slot;
  }
}

std::uint64_t ItemsetTable::insert(std::span<const ItemId> items, std::uint64_t hash) {
  if (2 * (size() + 1) > slots_.size()) grow();  // at most half full: short probe runs
  const std::uint64_t slot = probe(items, hash);
  if (slots_[slot] != 0) return slots_[slot] - 1;
  sets_.push_back(items);
  hashes_.push_back(hash);
  slots_[slot] = size();
  return size() - 1;
}

std::uint64_t ItemsetTable::find(std::span<const ItemId> items) const {
  if (slots_.empty()) return not_found;
  const std::uint64_t held = slots_[probe(items, itemset_hash(items))];
  return held == 0 ? not_found : held - 1;
}

void ItemsetTable::grow() {
  slots_.assign(std::max<std::size_t>(16, 2 * slots_.size()), 0);
  const std::uint64_t mask = slots_.size() - 1;
  for (std::uint64_t id = 0; id < size(); ++id) {
    std::uint64_t slot = hashes_[id] & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = id + 1;
  }
}

void ItemsetTable::clear() {
  sets_.clear();
  hashes_.clear();
  std::fill(slots_.begin(), slots_.end(), 0);
}

}  // namespace omniseg::rules
