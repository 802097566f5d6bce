#include "algorithms/fim/pfp.hpp"

#include <algorithm>
#include <numeric>
#include <queue>

#include "algorithms/fim/canonical_order.hpp"
#include "engine/hash_partition.hpp"
#include "engine/progress.hpp"

namespace omniseg::fim {
namespace {

using engine::Communicator;
using engine::ReduceOp;

struct ItemCount {
  ItemId item;
  std::uint64_t count;
};

/// Sorted by item, one entry per item, counts summed.
void merge_counts(std::vector<ItemCount>& counts) {
  std::sort(counts.begin(), counts.end(), [](const ItemCount& a, const ItemCount& b) { return a.item < b.item; });
  std::size_t out = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (out > 0 && counts[out - 1].item == counts[i].item) {
      counts[out - 1].count += counts[i].count;
    } else {
      counts[out++] = counts[i];
    }
  }
  counts.resize(out);
}

/// Global supports of the frequent items, most frequent first (ties: smaller id first): the
/// frequency order every rank computes identically.
std::vector<ItemCount> frequent_items(const Communicator& comm, const SetList<ItemId>& transactions,
                                      std::uint64_t min_support) {
  // Sort the ids (8-byte keys sort much faster than pairs), then count runs.
  std::vector<ItemId> ids(transactions.items);
  std::sort(ids.begin(), ids.end());
  std::vector<ItemCount> local;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t run = i;
    while (run < ids.size() && ids[run] == ids[i]) ++run;
    local.push_back({ids[i], run - i});
    i = run;
  }
  ids = {};
  const auto groups = engine::group_by_destination(
      local.size(), comm.size(), [&](std::uint64_t i) { return engine::owner_of(local[i].item, comm.size()); });
  std::vector<ItemCount> grouped;
  grouped.reserve(local.size());
  for (const std::uint64_t i : groups.order) grouped.push_back(local[i]);
  auto owned = comm.alltoallv(grouped, groups.record_counts).data;
  merge_counts(owned);
  std::erase_if(owned, [&](const ItemCount& c) { return c.count < min_support; });
  auto all = comm.allgatherv(owned).data;
  std::sort(all.begin(), all.end(), [](const ItemCount& a, const ItemCount& b) {
    return a.count != b.count ? a.count > b.count : a.item < b.item;
  });
  return all;
}

/// Rank of each frequent item id: a direct table when the ids are small, a sorted list otherwise.
class RankLookup {
 public:
  static constexpr ItemRank kNotFrequent = ~ItemRank{0};

  explicit RankLookup(const std::vector<ItemCount>& order) {
    ItemId largest = 0;
    for (const ItemCount& c : order) largest = std::max(largest, c.item);
    // A table costs 4 bytes per possible id: worth it while ids are dense enough.
    if (!order.empty() && largest < 16 * order.size() + (1u << 20)) {
      table_.assign(largest + 1, kNotFrequent);
      for (std::size_t r = 0; r < order.size(); ++r) table_[order[r].item] = static_cast<ItemRank>(r);
    } else {
      for (std::size_t r = 0; r < order.size(); ++r) sorted_.emplace_back(order[r].item, static_cast<ItemRank>(r));
      std::sort(sorted_.begin(), sorted_.end());
    }
  }

  [[nodiscard]] ItemRank operator()(ItemId item) const {
    if (sorted_.empty()) return item < table_.size() ? table_[item] : kNotFrequent;
    const auto found = std::lower_bound(sorted_.begin(), sorted_.end(), std::pair<ItemId, ItemRank>{item, 0});
    return found != sorted_.end() && found->first == item ? found->second : kNotFrequent;
  }

 private:
  std::vector<ItemRank> table_;
  std::vector<std::pair<ItemId, ItemRank>> sorted_;
};

/// Transactions as ranks in the frequency order, infrequent items dropped, ascending.
RankedTransactions recode(const SetList<ItemId>& transactions, const std::vector<ItemCount>& order) {
  const RankLookup rank_of(order);
  RankedTransactions ranked;
  ranked.offsets.reserve(transactions.offsets.size());
  ranked.items.reserve(transactions.items.size());
  std::vector<ItemRank> ranks;
  for (std::size_t t = 0; t < transactions.size(); ++t) {
    ranks.clear();
    for (const ItemId item : transactions[t]) {
      const ItemRank rank = rank_of(item);
      if (rank != RankLookup::kNotFrequent) ranks.push_back(rank);
    }
    std::sort(ranks.begin(), ranks.end());
    ranked.push_back(ranks);
  }
  return ranked;
}

/// Estimated mining cost of each item: the total length of the prefixes that end at it, i.e. the
/// size of its conditional database. Exact integers, so every rank gets the same plan.
std::vector<std::uint64_t> prefix_costs(const Communicator& comm, const RankedTransactions& ranked,
                                        std::size_t items) {
  std::vector<std::uint64_t> cost(items, 0);
  for (std::size_t t = 0; t < ranked.size(); ++t) {
    const auto tx = ranked[t];
    for (std::size_t position = 0; position < tx.size(); ++position) cost[tx[position]] += position + 1;
  }
  comm.allreduce_in_place(cost, ReduceOp::sum);
  return cost;
}

/// The work plan: items [group_first[g], group_first[g + 1]) form group g, mined on owner[g].
struct ShardPlan {
  std::vector<ItemRank> group_first;
  std::vector<ItemRank> group_of_item;
  std::vector<int> owner;
};

/// Consecutive groups of roughly equal cost, then longest-processing-time-first onto ranks.
ShardPlan plan_shards(const std::vector<std::uint64_t>& cost, int ranks, int groups_per_rank) {
  ShardPlan plan;
  const std::size_t items = cost.size();
  const std::size_t groups = std::min<std::size_t>(items, static_cast<std::size_t>(ranks) * groups_per_rank);
  plan.group_first.push_back(0);
  if (groups == 0) return plan;
  std::vector<std::uint64_t> running(items + 1, 0);  // running[i]: cost of items [0, i)
  std::partial_sum(cost.begin(), cost.end(), running.begin() + 1);
  const std::uint64_t total = running.back();
  // Group g - 1 ends where the running cost first reaches g / groups of the total; every group
  // keeps at least one item.
  for (std::size_t g = 1; g < groups; ++g) {
    const auto target = static_cast<std::uint64_t>(static_cast<long double>(total) * g / groups);
    const std::size_t lowest = plan.group_first.back() + 1, highest = items - (groups - g);
    const auto reached = std::lower_bound(running.begin() + static_cast<std::ptrdiff_t>(lowest),
                                          running.begin() + static_cast<std::ptrdiff_t>(highest), target);
    plan.group_first.push_back(static_cast<ItemRank>(reached - running.begin()));
  }
  plan.group_first.push_back(static_cast<ItemRank>(items));
  plan.group_of_item.resize(items);
  std::vector<std::uint64_t> group_cost(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    std::fill(plan.group_of_item.begin() + plan.group_first[g], plan.group_of_item.begin() + plan.group_first[g + 1],
              static_cast<ItemRank>(g));
    group_cost[g] = running[plan.group_first[g + 1]] - running[plan.group_first[g]];
  }
  // Largest groups first, each to the least loaded rank (ties: lowest group id, lowest rank).
  std::vector<std::size_t> by_cost(groups);
  std::iota(by_cost.begin(), by_cost.end(), std::size_t{0});
  std::stable_sort(by_cost.begin(), by_cost.end(),
                   [&](std::size_t a, std::size_t b) { return group_cost[a] > group_cost[b]; });
  using Load = std::pair<std::uint64_t, int>;
  std::priority_queue<Load, std::vector<Load>, std::greater<>> loads;
  for (int r = 0; r < ranks; ++r) loads.push({0, r});
  plan.owner.assign(groups, 0);
  for (const std::size_t g : by_cost) {
    const auto [load, rank] = loads.top();
    loads.pop();
    plan.owner[g] = rank;
    loads.push({load + group_cost[g], rank});
  }
  return plan;
}

/// Sends every transaction's group prefixes to the groups' owners; returns the records received,
/// each [group, length, ranks...].
std::vector<ItemRank> exchange_shards(const Communicator& comm, const RankedTransactions& ranked,
                                      const ShardPlan& plan, std::uint64_t& items_sent) {
  // For each transaction, walking back from its end: the first item seen of each group is that
  // group's last item, and the prefix up to it is what the group needs.
  auto for_each_record = [&](auto&& visit) {
    for (std::size_t t = 0; t < ranked.size(); ++t) {
      const auto tx = ranked[t];
      ItemRank last_group = ~ItemRank{0};
      for (std::size_t end = tx.size(); end > 0; --end) {
        const ItemRank group = plan.group_of_item[tx[end - 1]];
        if (group == last_group) continue;
        last_group = group;
        visit(group, tx.subspan(0, end));
      }
    }
  };
  std::vector<std::uint64_t> send_counts(static_cast<std::size_t>(comm.size()), 0);
  for_each_record([&](ItemRank group, std::span<const ItemRank> prefix) {
    send_counts[static_cast<std::size_t>(plan.owner[group])] += 2 + prefix.size();
  });
  std::vector<std::uint64_t> next(send_counts.size(), 0);
  std::exclusive_scan(send_counts.begin(), send_counts.end(), next.begin(), std::uint64_t{0});
  std::vector<ItemRank> send(std::accumulate(send_counts.begin(), send_counts.end(), std::uint64_t{0}));
  items_sent = 0;
  for_each_record([&](ItemRank group, std::span<const ItemRank> prefix) {
    std::uint64_t& at = next[static_cast<std::size_t>(plan.owner[group])];
    send[at++] = group;
    send[at++] = static_cast<ItemRank>(prefix.size());
    std::copy(prefix.begin(), prefix.end(), send.begin() + static_cast<std::ptrdiff_t>(at));
    at += prefix.size();
    items_sent += prefix.size();
  });
  return comm.alltoallv(send, send_counts).data;
}

/// The frequent items in ascending id order: canonical order compares these positions.
struct IdOrder {
  std::vector<ItemPosition> position_of_rank;
  std::vector<ItemId> id_of_position;
};

IdOrder id_order(const std::vector<ItemCount>& order) {
  IdOrder ids;
  ids.id_of_position.reserve(order.size());
  for (const ItemCount& c : order) ids.id_of_position.push_back(c.item);
  std::sort(ids.id_of_position.begin(), ids.id_of_position.end());
  ids.position_of_rank.resize(order.size());
  for (std::size_t r = 0; r < order.size(); ++r) {
    const auto at = std::lower_bound(ids.id_of_position.begin(), ids.id_of_position.end(), order[r].item);
    ids.position_of_rank[r] = static_cast<ItemPosition>(at - ids.id_of_position.begin());
  }
  return ids;
}

/// Takes the miner's itemsets (ranks) and bins them by size as ascending id-order positions, the
/// form the canonical order sorts.
class PositionBinning final : public ItemsetSink {
 public:
  PositionBinning(std::span<const ItemPosition> position_of_rank, SizeBins& bins)
      : position_of_rank_(position_of_rank), bins_(bins) {}

  void add(std::span<const ItemRank> descending, std::uint64_t support) override {
    positions_.resize(descending.size());
    for (std::size_t j = 0; j < descending.size(); ++j) {  // insertion sort: itemsets are short
      const ItemPosition item = position_of_rank_[descending[j]];
      std::size_t at = j;
      for (; at > 0 && positions_[at - 1] > item; --at) positions_[at] = positions_[at - 1];
      positions_[at] = item;
    }
    bins_.add(positions_, support);
  }

 private:
  std::span<const ItemPosition> position_of_rank_;
  SizeBins& bins_;
  std::vector<ItemPosition> positions_;
};

/// Mines every group this rank owns from the records it received.
void mine_groups(const std::vector<ItemRank>& records, const ShardPlan& plan, int rank, const MiningLimits& limits,
                 ItemsetSink& found) {
  const std::size_t groups = plan.owner.size();
  // Bucket the records by group (records of one group keep their order).
  std::vector<std::vector<std::size_t>> starts(groups);
  for (std::size_t at = 0; at < records.size(); at += 2 + records[at + 1]) starts[records[at]].push_back(at);
  RankedTransactions shard;
  const auto owned = static_cast<std::uint64_t>(std::count(plan.owner.begin(), plan.owner.end(), rank));
  // Long mining runs report groups done (this rank's; rank 0 logs) at most every 10 s.
  engine::Progress progress("fim mining", owned, {.interval_s = 10.0, .unit = "groups"});
  for (std::size_t g = 0; g < groups; ++g) {
    if (plan.owner[g] != rank) continue;
    progress.advance();
    shard.clear();
    for (const std::size_t at : starts[g]) {
      shard.push_back(std::span<const ItemRank>(records.data() + at + 2, records[at + 1]));
    }
    fp_growth(shard, limits, {plan.group_first[g], plan.group_first[g + 1] - 1}, found);
  }
}

/// Appends rows sorted by RowSorter to `out`, positions translated back to item ids.
void append_as_ids(const RowBlock& sorted, const IdOrder& ids, ItemsetList<ItemId>& out) {
  for (std::size_t i = 0; i < sorted.rows(); ++i) {
    for (const ItemPosition position : sorted.row(i)) out.sets.items.push_back(ids.id_of_position[position]);
    out.sets.offsets.push_back(out.sets.items.size());
  }
  out.support.insert(out.support.end(), sorted.support.begin(), sorted.support.end());
}

/// A bucket of the canonical order: all itemsets of one size with one first item.
struct Bucket {
  std::uint64_t size;
  std::uint64_t first;
  std::uint64_t count;
  friend bool operator<(const Bucket& a, const Bucket& b) {
    return a.size != b.size ? a.size < b.size : a.first < b.first;
  }
};

/// The non-empty (size, first item) buckets of all ranks' itemsets in canonical order, and the rank
/// each belongs to: the rank where the bucket starts in an even split of the list's weight, an
/// itemset of size k weighing k + 4 (its items, plus support and offset), so every rank sorts and
/// holds about as many bytes. Owners rise with the order: each rank's block is contiguous.
struct BucketPlan {
  std::vector<Bucket> buckets;
  std::vector<int> owner;
};

BucketPlan plan_buckets(const Communicator& comm, const SizeBins& bins, ItemPosition universe) {
  std::vector<Bucket> local;
  std::vector<std::uint64_t> count(universe, 0);
  for (std::size_t k = 1; k < bins.size_limit(); ++k) {
    std::fill(count.begin(), count.end(), 0);
    for (const RowBlock& block : bins.blocks(k)) {
      for (std::size_t i = 0; i < block.rows(); ++i) ++count[block.items[i * k]];
    }
    for (std::size_t first = 0; first < universe; ++first) {
      if (count[first] > 0) local.push_back({k, first, count[first]});
    }
  }
  BucketPlan plan;
  auto& global = plan.buckets;
  global = comm.allgatherv(local).data;
  std::sort(global.begin(), global.end());
  std::size_t merged = 0;  // equal buckets from different ranks become one
  for (std::size_t i = 0; i < global.size(); ++i) {
    if (merged > 0 && !(global[merged - 1] < global[i])) {
      global[merged - 1].count += global[i].count;
    } else {
      global[merged++] = global[i];
    }
  }
  global.resize(merged);
  const auto weight = [](const Bucket& b) { return b.count * (b.size + 4); };
  std::uint64_t total = 0;
  for (const Bucket& b : global) total += weight(b);
  plan.owner.resize(global.size());
  std::uint64_t before = 0;
  for (std::size_t b = 0; b < global.size(); ++b) {
    const auto share = static_cast<long double>(before) * comm.size() / static_cast<long double>(total);
    plan.owner[b] = std::min(comm.size() - 1, static_cast<int>(share));
    before += weight(global[b]);
  }
  return plan;
}

/// Sends every rank's binned itemsets to the owners of their (size, first item) buckets, one size
/// per round so only one size's rows are in flight at once; `bins` then holds, for each size, the
/// rows this rank received.
void exchange_by_owner(const Communicator& comm, SizeBins& bins, const BucketPlan& plan, std::size_t size_limit,
                       ItemPosition universe) {
  std::vector<int> owner_of_first(universe, 0);
  std::vector<std::uint64_t> rows_to(static_cast<std::size_t>(comm.size())), items_to(rows_to.size());
  RowBlock send;  // its capacity is reused round after round
  std::size_t bucket = 0;
  for (std::size_t k = 1; k < size_limit; ++k) {
    for (; bucket < plan.buckets.size() && plan.buckets[bucket].size == k; ++bucket) {
      owner_of_first[plan.buckets[bucket].first] = plan.owner[bucket];
    }
    group_rows(bins.blocks(k), k, [&](ItemPosition first) { return static_cast<std::size_t>(owner_of_first[first]); },
               rows_to, send);
    bins.release(k);
    for (std::size_t r = 0; r < rows_to.size(); ++r) items_to[r] = rows_to[r] * k;
    bins.replace({.k = k, .items = comm.alltoallv(send.items, items_to).data,
                  .support = comm.alltoallv(send.support, rows_to).data});
  }
}

/// This rank's block of the canonical list from every rank's binned itemsets: with several ranks,
/// each itemset first goes to the owner of its (size, first item) bucket; then every rank sorts
/// what it holds size by size, on its own (no rank waits for another while sorting).
ItemsetList<ItemId> canonical_block(const Communicator& comm, SizeBins& bins, const IdOrder& ids) {
  const auto universe = static_cast<ItemPosition>(ids.id_of_position.size());
  const BucketPlan plan = plan_buckets(comm, bins, universe);
  std::uint64_t rows = 0, items = 0;
  for (std::size_t b = 0; b < plan.buckets.size(); ++b) {
    if (plan.owner[b] != comm.rank()) continue;
    rows += plan.buckets[b].count;
    items += plan.buckets[b].count * plan.buckets[b].size;
  }
  const std::size_t size_limit = plan.buckets.empty() ? 0 : plan.buckets.back().size + 1;
  if (comm.size() > 1) exchange_by_owner(comm, bins, plan, size_limit, universe);
  ItemsetList<ItemId> block;  // exact capacity: no reallocation of a list of many millions
  block.sets.offsets.reserve(rows + 1);
  block.sets.items.reserve(items);
  block.support.reserve(rows);
  RowSorter sorter(universe);
  for (std::size_t k = 1; k < size_limit; ++k) {
    append_as_ids(sorter.sort(bins.blocks(k)), ids, block);
    bins.release(k);
  }
  return block;
}

}  // namespace

bool canonical_less(std::span<const ItemId> a, std::span<const ItemId> b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

FrequentItemsets mine_frequent_itemsets(const Communicator& comm, const SetList<ItemId>& transactions,
                                        const PfpOptions& options, engine::PhaseTimers& timers) {
  FrequentItemsets result;
  result.transactions = comm.allreduce(static_cast<std::uint64_t>(transactions.size()), ReduceOp::sum);

  std::vector<ItemCount> order;
  RankedTransactions ranked;
  ShardPlan plan;
  {
    auto phase = timers.phase("fim_item_counts");
    order = frequent_items(comm, transactions, options.limits.min_support);
    ranked = recode(transactions, order);
    plan = plan_shards(prefix_costs(comm, ranked, order.size()), comm.size(), options.groups_per_rank);
  }
  result.frequent_items = order.size();
  result.groups = plan.owner.size();

  std::vector<ItemRank> records;
  {
    auto phase = timers.phase("fim_shard_exchange");
    std::uint64_t sent = 0;
    records = exchange_shards(comm, ranked, plan, sent);
    result.shard_items_sent = comm.allreduce(sent, ReduceOp::sum);
    ranked = {};
  }
  const IdOrder ids = id_order(order);
  SizeBins found;
  {
    auto phase = timers.phase("fim_mine");
    PositionBinning binning(ids.position_of_rank, found);
    mine_groups(records, plan, comm.rank(), options.limits, binning);
    records = {};
  }
  {
    auto phase = timers.phase("fim_canonical_order");
    result.local = canonical_block(comm, found, ids);
  }
  std::uint64_t largest = 0;
  for (std::size_t i = 0; i < result.local.size(); ++i) largest = std::max<std::uint64_t>(largest, result.local.sets[i].size());
  result.by_size.assign(comm.allreduce(largest, ReduceOp::max), 0);
  for (std::size_t i = 0; i < result.local.size(); ++i) ++result.by_size[result.local.sets[i].size() - 1];
  comm.allreduce_in_place(result.by_size, ReduceOp::sum);
  const auto local_count = static_cast<std::uint64_t>(result.local.size());
  result.first_index = comm.exclusive_prefix_sum(local_count);
  result.total = comm.allreduce(local_count, ReduceOp::sum);
  return result;
}

}  // namespace omniseg::fim
