// algorithms/pca/pca.hpp — principal component analysis of a row-sharded matrix by TSQR.
//
// Owns: the distributed driver. Column means (and, to standardise, population standard deviations)
// come from exact reductions (algorithms/linalg/column_moments.hpp). The R factor of the centred
// rows is that of a fixed tree over global chunks of rows (algorithms/pca/tsqr.hpp): chunks cut by
// a rank boundary move whole to the rank holding their first row (fewer than chunk_rows rows per
// boundary, one alltoallv); each rank factorises its chunks and holds its run of them as a few d ×
// d factors (the maximal tree nodes inside it); the runs of adjacent ranks merge up a binary tree
// of point-to-point messages (log2 P levels); rank 0 finishes the chunk tree, takes the SVD of its
// root and broadcasts singular values and axes. So the model is bitwise the same for any number
// of ranks and any split of the rows. XᵀX is never formed, so the accuracy is that of a
// Householder QR of the centred data. The projection onto the leading axes is row-sharded, in
// tiles of global rows, and needs no communication.
#pragma once

#include <cstdint>
#include <vector>

#include "algorithms/linalg/row_block.hpp"
#include "algorithms/pca/tsqr.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"

namespace omniseg::pca {

struct PcaOptions {
  std::uint64_t components = 0;  ///< Q: 1 <= Q <= min(n, d)
  bool standardize = false;      ///< divide centred columns by their population standard deviation
  QrBlocking blocking;
};

struct PcaModel {
  std::uint64_t rows = 0;     ///< n
  std::uint64_t columns = 0;  ///< d
  /// Q × d row-major principal axes; each row's entry of largest magnitude is positive (the first
  /// such entry on an exact tie), which fixes the sign SVD leaves free.
  std::vector<double> components;
  std::vector<double> singular_values;           ///< Q, descending
  std::vector<double> explained_variance;        ///< Q: singular value² / (n - 1)
  std::vector<double> explained_variance_ratio;  ///< Q: share of the total variance
  double total_variance = 0;                     ///< over all d directions
  std::vector<double> all_singular_values;       ///< all d of the final R, descending (0 beyond n)
  std::vector<double> mean;                      ///< d
  std::vector<double> scale;                     ///< d with standardize (1 for constant columns), else empty
};

/// Collective. The ranks' blocks must be consecutive in rank order (RowBlockView). Throws
/// std::invalid_argument (the caller words it for its users) when n < 2 or Q is not in
/// [1, min(n, d)]. The result's bits depend on the data and options.blocking.chunk_rows only.
[[nodiscard]] PcaModel fit_pca(const engine::Communicator& comm, const linalg::RowBlockView& data,
                               const PcaOptions& options, engine::PhaseTimers& timers);

/// Local. The rows of `data` in the model's axes: local_rows × Q row-major; a row's bits do not
/// depend on which rank holds it.
[[nodiscard]] std::vector<double> project(const linalg::RowBlockView& data, const PcaModel& model);

/// Local: flips each row of a row-major rows × columns matrix so that its entry of largest
/// magnitude (the first on a tie) is positive.
void make_largest_entries_positive(std::vector<double>& matrix, std::size_t columns);

}  // namespace omniseg::pca
