// algorithms/pca/tsqr.hpp — the local kernels of TSQR: R factors of row blocks and of stacked R's.
//
// Owns: the Householder QR of one rank's rows, streamed through a cache-sized buffer: each chunk of
// rows is stacked under the running R and the (chunk + d) × d matrix is factorised with LAPACK's
// blocked, recursive dgeqrt, so the work is BLAS-3 and the whole block is never copied (unlike a
// dgeqrf of the full block, whose panels are bound by memory bandwidth). Centring and scaling are
// applied as the chunk is copied in, so the centred matrix is never stored. Also the combination
// step of the reduction tree (the R of two stacked R's). Only R is kept: PCA needs the singular
// values and right singular vectors, which R has, and never Q. Single-rank and pure.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "algorithms/linalg/row_block.hpp"

namespace omniseg::pca {

/// An upper-triangular order × order matrix, column-major, zeros below the diagonal. The R of a
/// block with fewer rows than columns is padded with zero rows (the same Gram matrix).
struct TriangularFactor {
  std::int64_t order = 0;
  std::vector<double> values;  ///< order × order, column-major

  [[nodiscard]] static TriangularFactor zero(std::int64_t order);
  [[nodiscard]] double operator()(std::int64_t row, std::int64_t column) const {
    return values[static_cast<std::size_t>(column * order + row)];
  }
};

/// How the local QR streams its rows; the defaults were the fastest measured (bench/qr_blocking.cpp,
/// docs/benchmarks.md).
struct QrBlocking {
  std::int64_t chunk_rows = 1024;  ///< rows stacked under R per factorisation
  std::int64_t panel_columns = 16;  ///< dgeqrt's block size nb
};

/// R of the QR factorisation of the rows (x - shift) / scale of `data` (both spans of length d;
/// pass an all-ones `scale` to only centre).
[[nodiscard]] TriangularFactor local_r_factor(const linalg::RowBlockView& data, std::span<const double> shift,
                                              std::span<const double> scale, const QrBlocking& blocking = {});

/// R of the QR factorisation of [top; bottom] (both of the same order).
[[nodiscard]] TriangularFactor stacked_r_factor(const TriangularFactor& top, const TriangularFactor& bottom,
                                                const QrBlocking& blocking = {});

}  // namespace omniseg::pca
