#include "algorithms/fim/canonical_order.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

namespace omniseg::fim {

ItemsetList<ItemPosition> canonical_sort(const ItemsetList<ItemPosition>& itemsets, ItemPosition universe) {
  // Itemsets of each size, by index, in input order.
  std::size_t largest = 0;
  for (std::size_t i = 0; i < itemsets.size(); ++i) largest = std::max(largest, itemsets.sets[i].size());
  std::vector<std::vector<std::uint64_t>> by_size(largest + 1);
  for (std::size_t i = 0; i < itemsets.size(); ++i) by_size[itemsets.sets[i].size()].push_back(i);

  ItemsetList<ItemPosition> sorted;
  sorted.sets.items.reserve(itemsets.sets.items.size());
  sorted.sets.offsets.reserve(itemsets.size() + 1);
  sorted.support.reserve(itemsets.size());
  std::vector<std::uint64_t> order, scratch, count(static_cast<std::size_t>(universe) + 1);
  for (std::size_t size = 0; size <= largest; ++size) {
    order = std::move(by_size[size]);
    scratch.resize(order.size());
    // LSD radix sort: stable counting sorts by the last item, then the one before, ... the first.
    for (std::size_t digit = size; digit-- > 0;) {
      std::fill(count.begin(), count.end(), 0);
      for (const std::uint64_t i : order) ++count[itemsets.sets[i][digit] + 1];
      std::partial_sum(count.begin(), count.end(), count.begin());
      for (const std::uint64_t i : order) scratch[count[itemsets.sets[i][digit]]++] = i;
      order.swap(scratch);
    }
    for (const std::uint64_t i : order) sorted.add(itemsets.sets[i], itemsets.support[i]);
  }
  return sorted;
}

}  // namespace omniseg::fim
