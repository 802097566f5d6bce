#include "engine/block_distribution.hpp"

#include <stdexcept>
#include <string>

namespace omniseg::engine {

BlockDistribution::BlockDistribution(std::uint64_t rows, int parts) : rows_(rows), parts_(parts) {
  if (parts < 1) throw std::invalid_argument("BlockDistribution: parts must be >= 1, got " + std::to_string(parts));
  base_ = rows / static_cast<std::uint64_t>(parts);
  extra_ = rows % static_cast<std::uint64_t>(parts);
}

RowRange BlockDistribution::range(int part) const {
  if (part < 0 || part >= parts_) {
    throw std::out_of_range("BlockDistribution: part " + std::to_string(part) + " outside [0, " +
                            std::to_string(parts_) + ")");
  }
  const auto p = static_cast<std::uint64_t>(part);
  const std::uint64_t begin = p * base_ + (p < extra_ ? p : extra_);
  return {begin, begin + base_ + (p < extra_ ? 1 : 0)};
}

int BlockDistribution::owner(std::uint64_t row) const {
  if (row >= rows_) {
    throw std::out_of_range("BlockDistribution: row " + std::to_string(row) + " outside [0, " +
                            std::to_string(rows_) + ")");
  }
  const std::uint64_t big_rows = extra_ * (base_ + 1);  // rows held by the larger parts
  if (row < big_rows) return static_cast<int>(row / (base_ + 1));
  return static_cast<int>(extra_ + (row - big_rows) / base_);
}

}  // namespace omniseg::engine
