// algorithms/linalg/column_moments.hpp — column means and standard deviations of a row-sharded
// matrix, with the same bits on any number of ranks.
//
// Owns: the exact reductions behind centring and standardising (PCA, the pipeline's standardize
// stage). Each sum is a 128-bit fixed-point sum (engine/exact_sum.hpp), so neither the rank count
// nor the order of rows changes a bit of the result.
#pragma once

#include <vector>

#include "algorithms/linalg/row_block.hpp"
#include "engine/communicator.hpp"

namespace omniseg::linalg {

struct ColumnMoments {
  std::vector<double> mean;                ///< per column
  std::vector<double> standard_deviation;  ///< population (divides by n), as scikit-learn's StandardScaler
  /// Per column: what standardising divides by: the standard deviation, or 1 for a constant column
  /// (StandardScaler's rule, so constant columns stay 0 instead of becoming NaN).
  std::vector<double> scale;
};

/// Collective. Means only (standard_deviation and scale empty) unless `with_deviation`. Needs at
/// least one row in total.
[[nodiscard]] ColumnMoments exact_column_moments(const engine::Communicator& comm, const RowBlockView& data,
                                                 bool with_deviation);

}  // namespace omniseg::linalg
