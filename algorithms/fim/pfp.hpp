// algorithms/fim/pfp.hpp — parallel frequent-itemset mining (PFP, Li et al., RecSys 2008).
//
// Owns: what crosses ranks. (1) Item supports: local counts shuffled to owner ranks and reduced,
// then the frequent items gathered by all, in a frequency order every rank computes identically.
// (2) Sharding: items form groups of consecutive ranks with balanced estimated cost; each
// transaction sends to each group only its prefix up to that group's last item; groups go to ranks
// by longest-processing-time first. (3) Local mining of each group (fp_growth.hpp). (4) The result
// in canonical order — by size, then lexicographically by original item id — spread over the ranks
// in consecutive blocks, so the concatenation in rank order is the same list for any rank count.
// Does not own: reading or writing files.
#pragma once

#include <cstdint>
#include <vector>

#include "algorithms/fim/fp_growth.hpp"
#include "algorithms/fim/itemsets.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"

namespace omniseg::fim {

using ItemId = std::uint64_t;  ///< an item id as it appears in the input

struct PfpOptions {
  MiningLimits limits;
  int groups_per_rank = 256;  ///< more groups balance better and replicate more prefixes
};

/// This rank's part of the canonical list of frequent itemsets, with global facts.
struct FrequentItemsets {
  ItemsetList<ItemId> local;             ///< consecutive block of the canonical list (items ascending)
  std::uint64_t first_index = 0;         ///< global index of local's first itemset
  std::uint64_t total = 0;               ///< itemsets on all ranks
  std::vector<std::uint64_t> by_size;    ///< by_size[k - 1]: itemsets of size k (all ranks)
  std::uint64_t transactions = 0;        ///< transactions on all ranks
  std::uint64_t frequent_items = 0;
  std::uint64_t groups = 0;
  std::uint64_t shard_items_sent = 0;    ///< item occurrences sent to groups (all ranks): replication cost
};

/// Collective. `transactions` are this rank's transactions (original ids, each ascending without
/// duplicates); ranks may hold none. Times its phases in `timers`.
FrequentItemsets mine_frequent_itemsets(const engine::Communicator& comm, const SetList<ItemId>& transactions,
                                        const PfpOptions& options, engine::PhaseTimers& timers);

/// Canonical order of itemsets: by size, then lexicographically by item id.
bool canonical_less(std::span<const ItemId> a, std::span<const ItemId> b);

}  // namespace omniseg::fim
