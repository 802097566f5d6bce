// engine/block_distribution.hpp — which global rows each rank owns.
//
// Owns: the block distribution of n rows over P parts: contiguous ranges in rank order, sizes
// differing by at most one (the first n mod P parts get one more), empty parts when n < P.
#pragma once

#include <cstdint>

namespace omniseg::engine {

/// Global rows [begin, end).
struct RowRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  [[nodiscard]] std::uint64_t size() const { return end - begin; }
  [[nodiscard]] bool contains(std::uint64_t row) const { return row >= begin && row < end; }
  friend bool operator==(const RowRange&, const RowRange&) = default;
};

class BlockDistribution {
 public:
  /// `parts` >= 1.
  BlockDistribution(std::uint64_t rows, int parts);

  [[nodiscard]] std::uint64_t rows() const { return rows_; }
  [[nodiscard]] int parts() const { return parts_; }
  /// The rows of `part` (0 <= part < parts()).
  [[nodiscard]] RowRange range(int part) const;
  /// The part that owns `row` (row < rows()).
  [[nodiscard]] int owner(std::uint64_t row) const;

 private:
  std::uint64_t rows_;
  int parts_;
  std::uint64_t base_;   // rows of a small part
  std::uint64_t extra_;  // number of parts with base_ + 1 rows
};

}  // namespace omniseg::engine
