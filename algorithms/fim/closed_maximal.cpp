// algorithms/fim/closed_maximal.cpp — closed and maximal itemsets: the cover kernels and their driver.
//
// Who owns a subset: the rank whose canonical block contains it. Every rank learns the first
// itemset of every rank's block (one allgatherv of P short sets) and finds a subset's owner by
// binary search. This beats hash partitioning here: hashing would first move the whole list to
// hash owners and, after the check, sort and move it back into canonical order; with the block
// boundaries the itemsets never move until the (much shorter) result is rebalanced, and the result
// is already in canonical order on every rank.
#include "algorithms/fim/closed_maximal.hpp"

#include <algorithm>
#include <bit>
#include <numeric>
#include <ranges>
#include <string>
#include <utility>

#include "engine/block_distribution.hpp"
#include "engine/errors.hpp"
#include "engine/hash_partition.hpp"

namespace omniseg::fim {
namespace {

using engine::Communicator;
using engine::ReduceOp;

bool lexicographic_less(std::span<const ItemId> a, std::span<const ItemId> b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

/// Local itemsets [first, last) of one size.
struct IndexRange {
  std::size_t first = 0;
  std::size_t last = 0;
  [[nodiscard]] std::size_t size() const { return last - first; }
};

/// ranges[k]: the local itemsets of size k (canonical order keeps each size together), k <= largest.
std::vector<IndexRange> ranges_by_size(const ItemsetList<ItemId>& local, std::size_t largest) {
  std::vector<IndexRange> ranges(largest + 1);
  std::size_t i = 0;
  for (std::size_t k = 0; k <= largest; ++k) {
    ranges[k].first = i;
    while (i < local.size() && local.sets[i].size() == k) ++i;
    ranges[k].last = i;
  }
  return ranges;
}

/// The first itemset of every non-empty rank's block. Blocks are consecutive in rank order, so a
/// listed itemset lies in the block of the last rank whose first itemset is not after it.
class BlockStarts {
 public:
  BlockStarts(const Communicator& comm, const ItemsetList<ItemId>& local) {
    std::vector<ItemId> first;
    if (local.size() > 0) first.assign(local.sets[0].begin(), local.sets[0].end());
    // An empty rank sends nothing; a listed itemset is never empty, so counts tell them apart.
    const auto gathered = comm.allgatherv(first);
    std::uint64_t at = 0;
    for (int r = 0; r < comm.size(); ++r) {
      const std::uint64_t count = gathered.counts[static_cast<std::size_t>(r)];
      if (count == 0) continue;
      starts_.push_back(std::span<const ItemId>(gathered.data.data() + at, count));
      rank_.push_back(r);
      at += count;
    }
  }

  /// The rank whose block would hold `itemset` (any rank if no rank holds anything).
  [[nodiscard]] int owner_of(std::span<const ItemId> itemset) const {
    const auto starts = std::views::iota(std::size_t{0}, starts_.size());
    const auto after =
        std::ranges::upper_bound(starts, itemset, canonical_less, [&](std::size_t j) { return starts_[j]; });
    const auto index = static_cast<std::size_t>(after - starts.begin());
    return index == 0 ? (rank_.empty() ? 0 : rank_.front()) : rank_[index - 1];
  }

 private:
  SetList<ItemId> starts_;
  std::vector<int> rank_;  // rank_[j]: the rank whose block starts with starts_[j]
};

/// Distinct itemsets of one size, each with a running maximum support: an open-addressing hash
/// table over flat storage, so a round's subsets cost no allocation each.
class MaxSupportTable {
 public:
  MaxSupportTable(std::size_t set_size, std::size_t most_entries)
      : slots_(std::bit_ceil(2 * most_entries + 1), empty) {
    records_.reserve(most_entries * (set_size + 1));
  }

  /// Records `set` with `support`, or raises the support already recorded for it.
  void raise(std::span<const ItemId> set, std::uint64_t support) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t slot = hash(set) & mask;; slot = (slot + 1) & mask) {
      if (slots_[slot] == empty) {
        slots_[slot] = records_.size();
        records_.push_back(support);
        records_.insert(records_.end(), set.begin(), set.end());
        return;
      }
      std::uint64_t* record = records_.data() + slots_[slot];
      if (std::equal(set.begin(), set.end(), record + 1)) {
        *record = std::max(*record, support);
        return;
      }
    }
  }

  /// The entries as cover records [support, items...], in order of first insertion.
  [[nodiscard]] std::vector<std::uint64_t> take_records() { return std::move(records_); }

 private:
  static constexpr std::uint64_t empty = ~std::uint64_t{0};
  static std::uint64_t hash(std::span<const ItemId> set) {
    std::uint64_t h = set.size();
    for (const ItemId item : set) h = engine::mix64(h ^ item);
    return h;
  }

  std::vector<std::uint64_t> slots_;  // offsets of records in records_, or `empty`
  std::vector<std::uint64_t> records_;
};

/// The cover records of the local (k+1)-itemsets in `supersets`, grouped by the subset's owner.
std::vector<std::uint64_t> cover_records_by_owner(const ItemsetList<ItemId>& local, IndexRange supersets,
                                                  const BlockStarts& starts, int ranks,
                                                  std::vector<std::uint64_t>& send_counts) {
  send_counts.assign(static_cast<std::size_t>(ranks), 0);
  if (supersets.size() == 0) return {};
  const std::size_t subset_size = local.sets[supersets.first].size() - 1;
  const std::vector<std::uint64_t> distinct = collect_covers(local, supersets.first, supersets.last);
  const CoverRecords covers{.subset_size = subset_size, .words = distinct};
  // Count per owner (remembering each record's owner), then copy in owner order.
  std::vector<int> owners(covers.size());
  for (std::size_t r = 0; r < covers.size(); ++r) {
    owners[r] = starts.owner_of(covers.subset(r));
    send_counts[static_cast<std::size_t>(owners[r])] += subset_size + 1;
  }
  std::vector<std::uint64_t> next(send_counts.size(), 0);
  std::exclusive_scan(send_counts.begin(), send_counts.end(), next.begin(), std::uint64_t{0});
  std::vector<std::uint64_t> send(distinct.size());
  for (std::size_t r = 0; r < covers.size(); ++r) {
    const auto record_begin = distinct.begin() + static_cast<std::ptrdiff_t>(r * (subset_size + 1));
    std::uint64_t& at = next[static_cast<std::size_t>(owners[r])];
    std::copy(record_begin, record_begin + static_cast<std::ptrdiff_t>(subset_size + 1),
              send.begin() + static_cast<std::ptrdiff_t>(at));
    at += subset_size + 1;
  }
  return send;
}

/// Moves the itemsets so that rank r holds block r of BlockDistribution(total, ranks). `kept` is
/// this rank's consecutive block, starting at global index `first_index`; order is preserved.
ItemsetList<ItemId> rebalance(const Communicator& comm, const ItemsetList<ItemId>& kept,
                              std::uint64_t first_index, std::uint64_t total) {
  std::vector<std::uint64_t> send_counts(static_cast<std::size_t>(comm.size()), 0);
  std::vector<std::uint64_t> send;
  send.reserve(kept.sets.items.size() + 2 * kept.size());
  if (total > 0) {
    const engine::BlockDistribution blocks(total, comm.size());
    for (std::size_t i = 0; i < kept.size(); ++i) {
      // Destinations ascend with the global index, so appending keeps the blocks in rank order.
      const auto set = kept.sets[i];
      send_counts[static_cast<std::size_t>(blocks.owner(first_index + i))] += 2 + set.size();
      send.push_back(set.size());
      send.push_back(kept.support[i]);
      send.insert(send.end(), set.begin(), set.end());
    }
  }
  const auto received = comm.alltoallv(send, send_counts).data;
  ItemsetList<ItemId> balanced;
  for (std::size_t at = 0; at < received.size(); at += 2 + received[at]) {
    balanced.add(std::span<const ItemId>(received.data() + at + 2, received[at]), received[at + 1]);
  }
  return balanced;
}

}  // namespace

std::vector<std::uint64_t> collect_covers(const ItemsetList<ItemId>& itemsets, std::size_t first,
                                          std::size_t last) {
  if (first == last) return {};
  const std::size_t superset_size = itemsets.sets[first].size();
  MaxSupportTable table(superset_size - 1, (last - first) * superset_size);
  std::vector<ItemId> subset(superset_size - 1);
  for (std::size_t z = first; z < last; ++z) {
    const auto superset = itemsets.sets[z];
    for (std::size_t dropped = 0; dropped < superset_size; ++dropped) {
      const auto cut = static_cast<std::ptrdiff_t>(dropped);
      std::copy(superset.begin(), superset.begin() + cut, subset.begin());
      std::copy(superset.begin() + cut + 1, superset.end(), subset.begin() + cut);
      table.raise(subset, itemsets.support[z]);
    }
  }
  return table.take_records();
}

std::uint64_t mark_covered(const ItemsetList<ItemId>& itemsets, std::size_t first, std::size_t last,
                           const CoverRecords& covers, CondensedKind kind,
                           std::vector<std::uint8_t>& covered) {
  const auto candidates = std::views::iota(first, last);
  std::uint64_t contradictions = 0;
  for (std::size_t r = 0; r < covers.size(); ++r) {
    const auto subset = covers.subset(r);
    const auto found = std::ranges::lower_bound(candidates, subset, lexicographic_less,
                                                [&](std::size_t i) { return itemsets.sets[i]; });
    if (found == candidates.end() || !std::ranges::equal(itemsets.sets[*found], subset)) {
      ++contradictions;
      continue;
    }
    const std::uint64_t subset_support = itemsets.support[*found];
    const std::uint64_t superset_support = covers.superset_support(r);
    if (superset_support > subset_support) {
      ++contradictions;
    } else if (kind == CondensedKind::maximal || superset_support == subset_support) {
      covered[*found] = 1;
    }
  }
  return contradictions;
}

FrequentItemsets keep_closed_or_maximal(const Communicator& comm, const FrequentItemsets& all,
                                        const ClosedMaximalOptions& options, engine::PhaseTimers& timers) {
  auto phase = timers.phase("fim_closed_maximal");
  const ItemsetList<ItemId>& local = all.local;
  std::uint64_t local_largest = 0;
  for (std::size_t i = 0; i < local.size(); ++i) {
    local_largest = std::max<std::uint64_t>(local_largest, local.sets[i].size());
  }
  const auto largest = static_cast<std::size_t>(comm.allreduce(local_largest, ReduceOp::max));
  const auto ranges = ranges_by_size(local, largest);
  const BlockStarts starts(comm, local);

  // Level s: the s-itemsets cover the (s-1)-itemsets. Every rank runs the same number of rounds
  // per level (the most any rank needs), so the exchanges match up.
  std::vector<std::uint64_t> supersets_per_round(largest + 1, 1), rounds(largest + 1, 0);
  for (std::size_t s = 2; s <= largest; ++s) {
    // Up to s distinct records of s words, kept twice (table, send buffer), hash slots, owners.
    const std::uint64_t bytes_per_superset = s * (2 * s * sizeof(std::uint64_t) + 4 * sizeof(std::uint64_t));
    supersets_per_round[s] = std::max<std::uint64_t>(1, options.cover_budget_bytes / bytes_per_superset);
    rounds[s] = (ranges[s].size() + supersets_per_round[s] - 1) / supersets_per_round[s];
  }
  comm.allreduce_in_place(rounds, ReduceOp::max);

  std::vector<std::uint8_t> covered(local.size(), 0);
  std::uint64_t contradictions = 0;
  std::vector<std::uint64_t> send_counts;
  engine::ReceivedBlocks<std::uint64_t> received;
  for (std::size_t s = 2; s <= largest; ++s) {
    for (std::uint64_t round = 0; round < rounds[s]; ++round) {
      const std::size_t begin =
          std::min<std::size_t>(ranges[s].last, ranges[s].first + round * supersets_per_round[s]);
      const std::size_t end = std::min<std::size_t>(ranges[s].last, begin + supersets_per_round[s]);
      const auto send = cover_records_by_owner(local, {begin, end}, starts, comm.size(), send_counts);
      comm.alltoallv(send, send_counts, received);
      const CoverRecords covers{.subset_size = s - 1, .words = received.data};
      contradictions +=
          mark_covered(local, ranges[s - 1].first, ranges[s - 1].last, covers, options.kind, covered);
    }
  }
  // Agreed before anyone throws, so every rank throws the same error together.
  contradictions = comm.allreduce(contradictions, ReduceOp::sum);
  if (contradictions > 0) {
    throw Error("closed/maximal itemsets: the input is not the complete list of frequent itemsets (" +
                std::to_string(contradictions) +
                " subsets of listed itemsets are missing or have a smaller support)");
  }

  ItemsetList<ItemId> kept;
  for (std::size_t i = 0; i < local.size(); ++i) {
    if (covered[i] || (options.max_size != 0 && local.sets[i].size() > options.max_size)) continue;
    kept.add(local.sets[i], local.support[i]);
  }
  covered = {};
  const auto kept_count = static_cast<std::uint64_t>(kept.size());
  const std::uint64_t total = comm.allreduce(kept_count, ReduceOp::sum);
  // Closed and maximal sets crowd into the larger sizes, i.e. onto the last ranks: even out.
  FrequentItemsets result;
  result.local = rebalance(comm, kept, comm.exclusive_prefix_sum(kept_count), total);
  kept = {};
  result.total = total;
  result.first_index = comm.exclusive_prefix_sum(result.local.size());
  std::uint64_t kept_largest = 0;
  for (std::size_t i = 0; i < result.local.size(); ++i) {
    kept_largest = std::max<std::uint64_t>(kept_largest, result.local.sets[i].size());
  }
  result.by_size.assign(comm.allreduce(kept_largest, ReduceOp::max), 0);
  for (std::size_t i = 0; i < result.local.size(); ++i) ++result.by_size[result.local.sets[i].size() - 1];
  comm.allreduce_in_place(result.by_size, ReduceOp::sum);
  result.transactions = all.transactions;
  result.frequent_items = all.frequent_items;
  result.groups = all.groups;
  result.shard_items_sent = all.shard_items_sent;
  return result;
}

}  // namespace omniseg::fim
