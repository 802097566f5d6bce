// algorithms/fim/canonical_order.hpp — sorting itemsets into the canonical order.
//
// Owns: the local kernel that puts itemsets in canonical order (by size, then lexicographically),
// in linear time: itemsets of one size are sorted by a least-significant-digit radix sort whose
// digits are items coded as dense positions (0 .. universe-1). Pure, single-rank.
#pragma once

#include <cstdint>
#include <span>

#include "algorithms/fim/itemsets.hpp"

namespace omniseg::fim {

/// Item codes whose numeric order is the order wanted (e.g. positions of item ids in ascending id
/// order); every code is < `universe`, and every itemset's codes are ascending.
using ItemPosition = std::uint32_t;

/// `itemsets` in canonical order: by size, then lexicographically by code. Stable.
ItemsetList<ItemPosition> canonical_sort(const ItemsetList<ItemPosition>& itemsets, ItemPosition universe);

/// The same for itemsets of other codes: each item c becomes position_of[c] and each itemset is
/// sorted ascending on the way (saves a separate copy of a possibly huge list).
ItemsetList<ItemPosition> canonical_sort(const ItemsetList<std::uint32_t>& itemsets,
                                         std::span<const ItemPosition> position_of, ItemPosition universe);

}  // namespace omniseg::fim
