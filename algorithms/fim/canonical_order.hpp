// algorithms/fim/canonical_order.hpp — putting itemsets into the canonical order.
//
// Owns: the local kernels of the canonical order (by size, then lexicographically). Itemsets are
// binned by size as the miner finds them (SizeBins: fixed-size chunks, so growing never copies),
// then each size is sorted on its own (RowSorter: a counting sort by the first item, then each run
// of equal first items sorted by the items after it packed into 128-bit keys). Items are coded as
// dense positions (0 .. universe-1) whose numeric order is the order wanted. Pure, single-rank.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "algorithms/fim/itemsets.hpp"

namespace omniseg::fim {

/// Item codes whose numeric order is the order wanted (e.g. positions of item ids in ascending id
/// order); every code is < `universe`, and every itemset's codes are ascending.
using ItemPosition = std::uint32_t;

/// Rows of one size k stored flat: row i is items[i*k, (i+1)*k), with support support[i].
struct RowBlock {
  std::size_t k = 0;
  std::vector<ItemPosition> items;
  std::vector<std::uint64_t> support;

  [[nodiscard]] std::size_t rows() const { return support.size(); }
  [[nodiscard]] std::span<const ItemPosition> row(std::size_t i) const { return {items.data() + i * k, k}; }
};

/// Groups the rows of `blocks` (all of size k >= 1) stably by group_of(first item) into `grouped`,
/// whose capacity is reused; `rows_in` (one entry per group) gets each group's row count.
template <class GroupOf>
void group_rows(std::span<const RowBlock> blocks, std::size_t k, GroupOf group_of, std::span<std::uint64_t> rows_in,
                RowBlock& grouped) {
  grouped.k = k;
  std::fill(rows_in.begin(), rows_in.end(), 0);
  std::uint64_t rows = 0;
  for (const RowBlock& block : blocks) {
    rows += block.rows();
    for (std::size_t i = 0; i < block.rows(); ++i) ++rows_in[group_of(block.items[i * k])];
  }
  std::vector<std::uint64_t> next(rows_in.size(), 0);
  std::exclusive_scan(rows_in.begin(), rows_in.end(), next.begin(), std::uint64_t{0});
  grouped.items.resize(rows * k);
  grouped.support.resize(rows);
  for (const RowBlock& block : blocks) {
    for (std::size_t i = 0; i < block.rows(); ++i) {
      const std::uint64_t at = next[group_of(block.items[i * k])]++;
      std::copy_n(block.items.data() + i * k, k, grouped.items.data() + at * k);
      grouped.support[at] = block.support[i];
    }
  }
}

/// Itemsets grouped by size in arrival order. Each size keeps its rows in blocks of about
/// kBlockBytes, so a list of many millions grows without reallocating and copying.
class SizeBins {
 public:
  static constexpr std::size_t kBlockBytes = std::size_t{1} << 20;

  /// Adds an itemset given as ascending positions.
  void add(std::span<const ItemPosition> ascending, std::uint64_t support);

  /// One more than the largest size held (0 when empty).
  [[nodiscard]] std::size_t size_limit() const { return bins_.size(); }
  [[nodiscard]] std::span<const RowBlock> blocks(std::size_t k) const;
  [[nodiscard]] std::uint64_t rows(std::size_t k) const;
  [[nodiscard]] std::uint64_t itemsets() const;
  /// Frees the rows of size k (callers that consume sizes in turn keep the peak down).
  void release(std::size_t k);
  /// Replaces the rows of size block.k by `block`.
  void replace(RowBlock&& block);

 private:
  std::vector<std::vector<RowBlock>> bins_;  // bins_[k]: the blocks of size k
};

/// Sorts rows of one size lexicographically. Keeps its buffers between calls, so sorting size after
/// size reuses memory instead of faulting in fresh pages.
class RowSorter {
 public:
  explicit RowSorter(ItemPosition universe);

  /// The rows of `blocks` (all of one size) in lexicographic order; stable (among equal rows, the
  /// earlier block and row first). Valid until the next call.
  const RowBlock& sort(std::span<const RowBlock> blocks);

 private:
  /// Up to 128 bits of a row's items after the first (a window of them), most significant first,
  /// and the row's index within its run.
  struct PackedKey {
    std::uint64_t high = 0, low = 0;
    std::uint32_t row = 0;
  };
  void sort_run(std::size_t begin, std::size_t end);
  void pack_window(std::size_t begin, std::size_t end, std::size_t window);
  void sort_keys(std::size_t begin, std::size_t end, unsigned bit, std::size_t window);
  [[nodiscard]] std::size_t window_items(std::size_t window) const;

  ItemPosition universe_;
  RowBlock sorted_;
  std::vector<std::uint64_t> run_rows_;  // rows of each first item
  std::vector<PackedKey> keys_, scattered_keys_;
  std::vector<ItemPosition> run_items_;
  std::vector<std::uint64_t> run_support_;
  unsigned bits_;                       // bits per item in a key
  std::size_t items_per_key_;          // items in a full window
  const ItemPosition* run_ = nullptr;  // the rows being sorted
};

/// `itemsets` in canonical order: by size, then lexicographically by code. Stable.
ItemsetList<ItemPosition> canonical_sort(const ItemsetList<ItemPosition>& itemsets, ItemPosition universe);

}  // namespace omniseg::fim
