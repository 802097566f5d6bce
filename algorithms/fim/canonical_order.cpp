#include "algorithms/fim/canonical_order.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <numeric>

namespace omniseg::fim {
namespace {
__extension__ typedef unsigned __int128 Key128;  // GCC/Clang; __extension__ keeps -Wpedantic quiet
}  // namespace

void SizeBins::add(std::span<const ItemPosition> ascending, std::uint64_t support) {
  const std::size_t k = ascending.size();
  if (bins_.size() <= k) bins_.resize(k + 1);
  auto& blocks = bins_[k];
  const std::size_t row_bytes = k * sizeof(ItemPosition) + sizeof(std::uint64_t);
  const std::size_t rows_per_block = std::max<std::size_t>(1, kBlockBytes / row_bytes);
  if (blocks.empty() || blocks.back().rows() == rows_per_block) {
    RowBlock& block = blocks.emplace_back();
    block.k = k;
    block.items.reserve(rows_per_block * k);
    block.support.reserve(rows_per_block);
  }
  RowBlock& block = blocks.back();
  block.items.insert(block.items.end(), ascending.begin(), ascending.end());
  block.support.push_back(support);
}

std::span<const RowBlock> SizeBins::blocks(std::size_t k) const {
  return k < bins_.size() ? std::span<const RowBlock>(bins_[k]) : std::span<const RowBlock>();
}

std::uint64_t SizeBins::rows(std::size_t k) const {
  std::uint64_t total = 0;
  for (const RowBlock& block : blocks(k)) total += block.rows();
  return total;
}

std::uint64_t SizeBins::itemsets() const {
  std::uint64_t total = 0;
  for (std::size_t k = 0; k < bins_.size(); ++k) total += rows(k);
  return total;
}

void SizeBins::release(std::size_t k) {
  if (k < bins_.size()) bins_[k] = {};
}

void SizeBins::replace(RowBlock&& block) {
  if (bins_.size() <= block.k) bins_.resize(block.k + 1);
  bins_[block.k].clear();
  bins_[block.k].push_back(std::move(block));
}

RowSorter::RowSorter(ItemPosition universe)
    : universe_(universe),
      bits_(static_cast<unsigned>(std::bit_width(std::max<ItemPosition>(universe - 1, 1)))),
      items_per_key_(128 / bits_) {}

const RowBlock& RowSorter::sort(std::span<const RowBlock> blocks) {
  const std::size_t k = blocks.empty() ? 0 : blocks.front().k;
  if (k == 0) {  // all empty sets: nothing to order
    sorted_.k = 0;
    sorted_.items.clear();
    sorted_.support.clear();
    for (const RowBlock& block : blocks) {
      sorted_.support.insert(sorted_.support.end(), block.support.begin(), block.support.end());
    }
    return sorted_;
  }
  // A counting sort by the first item, then each run of equal first items by the items after it.
  run_rows_.resize(universe_);
  group_rows(blocks, k, [](ItemPosition first) { return first; }, run_rows_, sorted_);
  if (k == 1) return sorted_;
  std::uint64_t begin = 0;
  for (const std::uint64_t rows : run_rows_) {
    if (rows > 1) sort_run(begin, begin + rows);
    begin += rows;
  }
  return sorted_;
}

/// Sorts rows [begin, end) of sorted_, which share their first item, by the items after it.
void RowSorter::sort_run(std::size_t begin, std::size_t end) {
  const std::size_t k = sorted_.k, rows = end - begin;
  run_ = sorted_.items.data() + begin * k;
  keys_.resize(rows);
  for (std::size_t r = 0; r < rows; ++r) keys_[r].row = static_cast<std::uint32_t>(r);
  pack_window(0, rows, 0);
  sort_keys(0, rows, static_cast<unsigned>(window_items(0)) * bits_, 0);
  run_support_.assign(sorted_.support.begin() + static_cast<std::ptrdiff_t>(begin),
                      sorted_.support.begin() + static_cast<std::ptrdiff_t>(end));
  for (std::size_t r = 0; r < rows; ++r) sorted_.support[begin + r] = run_support_[keys_[r].row];
  ItemPosition* out = sorted_.items.data() + begin * k;
  if (window_items(0) + 1 == k) {  // the keys hold the whole rows: unpack them in place
    const ItemPosition first = out[0];
    const Key128 mask = (Key128{1} << bits_) - 1;
    for (std::size_t r = 0; r < rows; ++r, out += k) {
      Key128 key = Key128{keys_[r].high} << 64 | keys_[r].low;
      for (std::size_t j = k - 1; j >= 1; --j, key >>= bits_) out[j] = static_cast<ItemPosition>(key & mask);
      out[0] = first;
    }
    return;
  }
  run_items_.assign(out, out + rows * k);
  for (std::size_t r = 0; r < rows; ++r) {
    std::copy_n(run_items_.data() + std::size_t{keys_[r].row} * k, k, out + r * k);
  }
}

/// Items after the first in key window `window`: window w holds items 1 + w * items_per_key_ on.
std::size_t RowSorter::window_items(std::size_t window) const {
  const std::size_t after_first = sorted_.k - 1, skipped = window * items_per_key_;
  return skipped >= after_first ? 0 : std::min(items_per_key_, after_first - skipped);
}

void RowSorter::pack_window(std::size_t begin, std::size_t end, std::size_t window) {
  const std::size_t k = sorted_.k, from = 1 + window * items_per_key_, items = window_items(window);
  for (std::size_t r = begin; r < end; ++r) {
    const ItemPosition* row = run_ + std::size_t{keys_[r].row} * k + from;
    Key128 key = 0;
    for (std::size_t j = 0; j < items; ++j) key = key << bits_ | row[j];
    keys_[r].high = static_cast<std::uint64_t>(key >> 64);
    keys_[r].low = static_cast<std::uint64_t>(key);
  }
}

/// Sorts keys_[begin, end) stably; they agree on every key bit at or above `bit` (the key of
/// `window` is bit wide at first). An MSD radix sort on 8-bit digits, insertion sort for small
/// ranges; keys that agree on a whole window go on to the next window of items.
void RowSorter::sort_keys(std::size_t begin, std::size_t end, unsigned bit, std::size_t window) {
  const auto key_of = [](const PackedKey& key) { return Key128{key.high} << 64 | key.low; };
  const std::size_t n = end - begin;
  if (n < 2) return;
  if (bit == 0) {  // equal on this window: the next one decides, if the rows go on
    const std::size_t next_items = window_items(window + 1);
    if (next_items == 0) return;
    pack_window(begin, end, window + 1);
    sort_keys(begin, end, static_cast<unsigned>(next_items) * bits_, window + 1);
    return;
  }
  constexpr std::size_t kInsertionBelow = 32;
  if (n < kInsertionBelow) {
    for (std::size_t i = begin + 1; i < end; ++i) {  // stable
      const PackedKey moving = keys_[i];
      const Key128 value = key_of(moving);
      std::size_t at = i;
      for (; at > begin && key_of(keys_[at - 1]) > value; --at) keys_[at] = keys_[at - 1];
      keys_[at] = moving;
    }
    // Runs of equal keys still need the next window.
    for (std::size_t i = begin; i < end;) {
      std::size_t j = i + 1;
      while (j < end && key_of(keys_[j]) == key_of(keys_[i])) ++j;
      if (j - i > 1) sort_keys(i, j, 0, window);
      i = j;
    }
    return;
  }
  const unsigned low_bit = bit > 8 ? bit - 8 : 0;
  const auto digit = [&](const PackedKey& key) {
    return static_cast<std::size_t>((key_of(key) >> low_bit) & ((Key128{1} << (bit - low_bit)) - 1));
  };
  std::array<std::size_t, 257> next{};
  for (std::size_t r = begin; r < end; ++r) ++next[digit(keys_[r]) + 1];
  std::array<std::size_t, 257> part_begin{};
  std::partial_sum(next.begin(), next.end(), part_begin.begin());
  next = part_begin;
  scattered_keys_.resize(std::max(scattered_keys_.size(), n));
  for (std::size_t r = begin; r < end; ++r) scattered_keys_[next[digit(keys_[r])]++] = keys_[r];
  std::copy_n(scattered_keys_.begin(), n, keys_.begin() + static_cast<std::ptrdiff_t>(begin));
  for (std::size_t d = 0; d < 256; ++d) {
    if (part_begin[d + 1] - part_begin[d] > 1) {
      sort_keys(begin + part_begin[d], begin + part_begin[d + 1], low_bit, window);
    }
  }
}

ItemsetList<ItemPosition> canonical_sort(const ItemsetList<ItemPosition>& itemsets, ItemPosition universe) {
  SizeBins bins;
  for (std::size_t i = 0; i < itemsets.size(); ++i) bins.add(itemsets.sets[i], itemsets.support[i]);
  ItemsetList<ItemPosition> result;
  result.sets.items.reserve(itemsets.sets.items.size());
  result.sets.offsets.reserve(itemsets.size() + 1);
  result.support.reserve(itemsets.size());
  RowSorter sorter(universe);
  for (std::size_t k = 0; k < bins.size_limit(); ++k) {
    const RowBlock& sorted = sorter.sort(bins.blocks(k));
    for (std::size_t i = 0; i < sorted.rows(); ++i) result.add(sorted.row(i), sorted.support[i]);
  }
  return result;
}

}  // namespace omniseg::fim
