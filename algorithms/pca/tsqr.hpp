// algorithms/pca/tsqr.hpp — the local kernels of TSQR: R factors of row chunks, of stacked R's, and
// the fixed reduction tree over global chunks that makes R independent of how rows are distributed.
//
// Owns: (1) the leaves: the Householder QR of one chunk of rows alone, centred and scaled as it is
// copied in (the centred matrix is never stored), factorised with LAPACK's blocked, recursive
// dgeqrt, so the work is BLAS-3 on a cache-sized matrix; (2) the combination step (the R of two
// stacked R's, by dtpqrt on the two triangles); (3) the tree. The rows are cut into global chunks of QrBlocking::chunk_rows rows
// (chunk j = rows [jC, (j+1)C) of the whole matrix), and the R's meet up a fixed binary tree over
// chunk indices: node (level l, index i) covers chunks [i·2^l, (i+1)·2^l) and its R is
// stacked_r_factor(left child, right child), or the left child's R unchanged when no chunk lies in
// the right child. The root's R thus depends only on the data and the chunk size. A contiguous run
// of chunks is held as its canonical decomposition into maximal tree nodes (O(log m) factors);
// runs of adjacent chunks merge into the run of their union with the same node values whatever
// the order of the merges, which lets any partition of the chunks (over ranks) reach the same
// bits. Only R is kept: PCA needs the singular values and right singular vectors, which R has, and
// never Q. Single-rank and pure; what crosses ranks is algorithms/pca/pca.cpp's.
#pragma once

#include <cstdint>
#include <memory>
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

/// How the QR cuts and factorises the rows. chunk_rows fixes the tree, hence the result's bits
/// (never whether they depend on the ranks). The defaults were the fastest measured for the
/// earlier streamed QR, whose chunks were stacked under a running R (bench/qr_blocking.cpp,
/// docs/benchmarks.md); a leaf is the same dgeqrt on a chunk, plus one merge per chunk.
struct QrBlocking {
  std::int64_t chunk_rows = 1024;   ///< C: rows of one leaf of the tree
  std::int64_t panel_columns = 16;  ///< dgeqrt's block size nb
};

/// Factorises chunks one after another in buffers it keeps (the leaves of the tree). The same rows
/// give the same bits on any rank: the buffers are 64-byte aligned and shaped by the chunk alone.
class ChunkFactoriser {
 public:
  ChunkFactoriser(std::int64_t order, const QrBlocking& blocking);
  ChunkFactoriser(ChunkFactoriser&&) noexcept;
  ChunkFactoriser& operator=(ChunkFactoriser&&) noexcept;
  ~ChunkFactoriser();

  /// R of the QR factorisation of the `count` rows (x - shift) / scale at `rows` (row-major,
  /// count × order; shift and scale of length order, pass all-ones `scale` to only centre).
  [[nodiscard]] TriangularFactor factorise(const double* rows, std::int64_t count, std::span<const double> shift,
                                           std::span<const double> scale);

 private:
  struct Buffers;
  std::int64_t order_;
  std::int64_t panel_columns_;
  std::unique_ptr<Buffers> buffers_;
};

/// R of the QR factorisation of [top; bottom] (both of the same order).
[[nodiscard]] TriangularFactor stacked_r_factor(const TriangularFactor& top, const TriangularFactor& bottom,
                                                const QrBlocking& blocking = {});

/// A node of the chunk tree: chunks [index·2^level, (index+1)·2^level).
struct TreeNode {
  int level = 0;
  std::int64_t index = 0;
};

/// The maximal tree nodes inside the chunks [first, end), left to right: what a ChunkRun of that
/// range holds (empty when first == end).
[[nodiscard]] std::vector<TreeNode> canonical_nodes(std::int64_t first, std::int64_t end);

/// The R factors of the consecutive chunks [first_chunk, end_chunk): one per node of
/// canonical_nodes(first_chunk, end_chunk), in that order.
struct ChunkRun {
  std::int64_t order = 0;
  std::int64_t first_chunk = 0;
  std::int64_t end_chunk = 0;
  std::vector<TreeNode> nodes;
  std::vector<TriangularFactor> factors;  ///< factors[k] is the R of nodes[k]

  /// An empty run that starts at chunk `first`.
  [[nodiscard]] static ChunkRun empty(std::int64_t order, std::int64_t first);
};

/// Adds chunk run.end_chunk with R `leaf`, merging sibling nodes into their parents.
void append_leaf(ChunkRun& run, TriangularFactor leaf, const QrBlocking& blocking = {});

/// Appends the leaves of the rows (row-major, count × order) that fill the chunks from
/// run.end_chunk on: blocking.chunk_rows rows each, the last shorter only where the matrix ends.
void append_chunks(ChunkRun& run, ChunkFactoriser& factoriser, const double* rows, std::int64_t count,
                   std::span<const double> shift, std::span<const double> scale, const QrBlocking& blocking = {});

/// `left` becomes the run of left's and right's chunks (right.first_chunk == left.end_chunk), with
/// the node values the tree gives them, in whatever order runs are merged.
void append_run(ChunkRun& left, ChunkRun&& right, const QrBlocking& blocking = {});

/// The R at the root of the tree over chunks [0, run.end_chunk) (run.first_chunk must be 0): the
/// nodes of the run are folded from the right, each a left child whose sibling holds the rest.
/// A zero factor for an empty run.
[[nodiscard]] TriangularFactor root_factor(ChunkRun&& run, const QrBlocking& blocking = {});

/// R of all rows of `data` by the chunk tree (its rows are chunks 0, 1, ...): the R that fit_pca
/// gets for this matrix on any number of ranks.
[[nodiscard]] TriangularFactor local_r_factor(const linalg::RowBlockView& data, std::span<const double> shift,
                                              std::span<const double> scale, const QrBlocking& blocking = {});

}  // namespace omniseg::pca
