#include "algorithms/fim/canonical_order.hpp"

#include <algorithm>
#include <bit>
#include <numeric>
#include <vector>

namespace omniseg::fim {
namespace {

/// Itemsets of one size k stored flat: row i is items[i*k, (i+1)*k). Contiguous rows keep the
/// comparisons of the sort in cache, unlike CSR rows reached through offsets.
struct SizeClass {
  std::size_t k = 0;
  std::vector<ItemPosition> items;
  std::vector<std::uint64_t> support;
  [[nodiscard]] std::size_t rows() const { return support.size(); }
  [[nodiscard]] const ItemPosition* row(std::size_t i) const { return items.data() + i * k; }
};

/// The items after the first, packed most significant first into 128 bits: for rows of equal
/// length, numeric order of the packed keys is lexicographic order of the items.
struct PackedRow {
  std::uint64_t high = 0, low = 0;
  std::uint32_t row = 0;
  friend bool operator<(const PackedRow& a, const PackedRow& b) {
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    return a.row < b.row;  // equal rows keep their input order
  }
};

/// Row indices of `sizes` in canonical order: a counting sort by the first item, then a sort of
/// each bucket by the remaining items — as packed integer keys when they fit in 128 bits.
std::vector<std::uint32_t> canonical_rows(const SizeClass& sizes, ItemPosition universe) {
  const std::size_t n = sizes.rows(), k = sizes.k;
  std::vector<std::uint32_t> start(static_cast<std::size_t>(universe) + 1, 0);
  for (std::size_t i = 0; i < n; ++i) ++start[sizes.row(i)[0] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::uint32_t> order(n);
  std::vector<std::uint32_t> next(start.begin(), start.end() - 1);
  for (std::size_t i = 0; i < n; ++i) order[next[sizes.row(i)[0]]++] = static_cast<std::uint32_t>(i);
  if (k <= 1) return order;

  const auto bits = static_cast<unsigned>(std::bit_width(std::max<ItemPosition>(universe - 1, 1)));
  if ((k - 1) * bits <= 128) {
    std::vector<PackedRow> keys;
    for (std::size_t first = 0; first < universe; ++first) {
      const std::uint32_t begin = start[first], end = start[first + 1];
      if (end - begin < 2) continue;
      keys.clear();
      for (std::uint32_t at = begin; at < end; ++at) {
        PackedRow key{.high = 0, .low = 0, .row = order[at]};
        const ItemPosition* items = sizes.row(order[at]);
        for (std::size_t j = 1; j < k; ++j) {  // shift the 128-bit pair left by `bits`, add the item
          key.high = (key.high << bits) | (bits < 64 ? key.low >> (64 - bits) : key.low);
          key.low = (bits < 64 ? key.low << bits : 0) | items[j];
        }
        keys.push_back(key);
      }
      std::sort(keys.begin(), keys.end());
      for (std::uint32_t at = begin; at < end; ++at) order[at] = keys[at - begin].row;
    }
    return order;
  }
  const auto rest_less = [&](std::uint32_t a, std::uint32_t b) {
    const ItemPosition* x = sizes.row(a);
    const ItemPosition* y = sizes.row(b);
    const auto [x_end, y_end] = std::mismatch(x + 1, x + k, y + 1);
    return x_end != x + k ? *x_end < *y_end : a < b;  // equal rows keep their input order
  };
  for (std::size_t first = 0; first < universe; ++first) {
    if (start[first + 1] - start[first] > 1) {
      std::sort(order.begin() + start[first], order.begin() + start[first + 1], rest_less);
    }
  }
  return order;
}

/// Sorts `itemsets` (items recoded through `position_of` when given) into canonical order.
ItemsetList<ItemPosition> sort_canonically(const ItemsetList<std::uint32_t>& itemsets,
                                           std::span<const ItemPosition> position_of, ItemPosition universe) {
  // Size classes with exact capacity: no reallocation while copying a list of many millions.
  std::vector<std::size_t> rows_of_size;
  for (std::size_t i = 0; i < itemsets.size(); ++i) {
    const std::size_t k = itemsets.sets[i].size();
    if (rows_of_size.size() <= k) rows_of_size.resize(k + 1, 0);
    ++rows_of_size[k];
  }
  std::vector<SizeClass> by_size(rows_of_size.size());
  for (std::size_t k = 0; k < by_size.size(); ++k) {
    by_size[k].k = k;
    by_size[k].items.resize(k * rows_of_size[k]);
    by_size[k].support.resize(rows_of_size[k]);
  }
  std::vector<std::size_t> filled(by_size.size(), 0);
  for (std::size_t i = 0; i < itemsets.size(); ++i) {
    const auto set = itemsets.sets[i];
    const std::size_t k = set.size();
    const std::size_t row = filled[k]++;
    ItemPosition* out = by_size[k].items.data() + row * k;
    if (position_of.empty()) {
      std::copy(set.begin(), set.end(), out);
    } else {
      for (std::size_t j = 0; j < k; ++j) {  // insertion sort: itemsets are short
        ItemPosition item = position_of[set[j]];
        std::size_t at = j;
        for (; at > 0 && out[at - 1] > item; --at) out[at] = out[at - 1];
        out[at] = item;
      }
    }
    by_size[k].support[row] = itemsets.support[i];
  }
  ItemsetList<ItemPosition> sorted;
  sorted.sets.items.resize(itemsets.sets.items.size());
  sorted.sets.offsets.resize(itemsets.size() + 1);
  sorted.support.resize(itemsets.size());
  std::size_t next = 0;
  std::uint64_t offset = 0;
  sorted.sets.offsets[0] = 0;
  for (SizeClass& sizes : by_size) {
    const auto order = sizes.k == 0 ? std::vector<std::uint32_t>(sizes.rows(), 0) : canonical_rows(sizes, universe);
    for (std::size_t r = 0; r < order.size(); ++r) {
      const std::uint32_t i = sizes.k == 0 ? static_cast<std::uint32_t>(r) : order[r];
      std::copy_n(sizes.row(i), sizes.k, sorted.sets.items.data() + offset);
      offset += sizes.k;
      sorted.support[next] = sizes.support[i];
      sorted.sets.offsets[++next] = offset;
    }
    sizes = {};  // free as we go
  }
  return sorted;
}

}  // namespace

ItemsetList<ItemPosition> canonical_sort(const ItemsetList<ItemPosition>& itemsets, ItemPosition universe) {
  return sort_canonically(itemsets, {}, universe);
}

ItemsetList<ItemPosition> canonical_sort(const ItemsetList<std::uint32_t>& itemsets,
                                         std::span<const ItemPosition> position_of, ItemPosition universe) {
  return sort_canonically(itemsets, position_of, universe);
}

}  // namespace omniseg::fim
