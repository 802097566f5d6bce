// algorithms/linalg/row_block.hpp — a rank's block of rows of a row-sharded dense matrix.
//
// Owns: the read-only view the distributed drivers (PCA, K-means) take: local rows, row-major,
// together with where they sit in the global matrix. Global row ids key randomness and fix the
// order of every reduction that must not depend on the partitioning. Does not own: the storage
// (io::MatrixBlock, a feature table, ...).
#pragma once

#include <cstdint>
#include <span>

namespace omniseg::linalg {

struct RowBlockView {
  std::span<const double> values;      ///< local_rows × columns, row-major
  std::uint64_t local_rows = 0;
  std::uint64_t columns = 0;
  std::uint64_t first_global_row = 0;  ///< global id of local row 0; ranks hold consecutive blocks in rank order
  std::uint64_t global_rows = 0;

  [[nodiscard]] const double* row(std::uint64_t local_row) const { return values.data() + local_row * columns; }
  [[nodiscard]] std::uint64_t global_row(std::uint64_t local_row) const { return first_global_row + local_row; }
};

}  // namespace omniseg::linalg
