#include "algorithms/pca/tsqr.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

#include "algorithms/linalg/blas.hpp"

namespace omniseg::pca {
namespace {

/// A 64-byte aligned array of doubles. LAPACK gets matrices at the same alignment on every call
/// and every rank, so a vectorised level-1/2 kernel cannot peel a different head and round in a
/// different order.
class AlignedDoubles {
 public:
  /// At least `count` elements; the contents are unspecified after a growth.
  void reserve(std::size_t count) {
    if (count <= capacity_) return;
    constexpr std::size_t alignment = 64;
    const std::size_t bytes = (count * sizeof(double) + alignment - 1) / alignment * alignment;
    values_.reset(static_cast<double*>(std::aligned_alloc(alignment, bytes)));
    if (!values_) throw std::bad_alloc();
    capacity_ = count;
  }
  [[nodiscard]] double* data() { return values_.get(); }

 private:
  struct Free {
    void operator()(double* p) const { std::free(p); }
  };
  std::unique_ptr<double[], Free> values_;
  std::size_t capacity_ = 0;
};

/// dgeqrt's block size for a matrix of `order` columns.
std::int64_t panel_width(std::int64_t panel_columns, std::int64_t order) {
  return std::clamp<std::int64_t>(panel_columns, 1, order);
}

/// A leading dimension for m rows: a multiple of 8 doubles, so every column stays 64-byte aligned,
/// plus 8, so that a power-of-two m (the default chunk of 1024 rows) does not map every column of
/// a row to the same cache set. A function of m alone, like everything that shapes a leaf.
std::int64_t padded_leading_dimension(std::int64_t m) { return (m + 7) / 8 * 8 + 8; }

/// The upper triangle of the top order rows of the column-major `a` (leading dimension `leading`).
TriangularFactor upper_triangle(const double* a, std::int64_t order, std::int64_t leading) {
  TriangularFactor r = TriangularFactor::zero(order);
  for (std::int64_t j = 0; j < order; ++j) {
    for (std::int64_t i = 0; i <= j; ++i) r.values[static_cast<std::size_t>(j * order + i)] = a[j * leading + i];
  }
  return r;
}

bool are_siblings(const TreeNode& left, const TreeNode& right) {
  return left.level == right.level && left.index % 2 == 0 && right.index == left.index + 1;
}

/// Pushes a node onto the run's right end and merges sibling pairs there. Each node is checked
/// against its left neighbour when it arrives, so no pair of siblings is ever left unmerged.
void push_node(ChunkRun& run, TreeNode node, TriangularFactor factor, const QrBlocking& blocking) {
  run.nodes.push_back(node);
  run.factors.push_back(std::move(factor));
  while (run.nodes.size() >= 2) {
    const std::size_t last = run.nodes.size() - 1;
    const TreeNode left = run.nodes[last - 1];
    if (!are_siblings(left, run.nodes[last])) break;
    run.factors[last - 1] = stacked_r_factor(run.factors[last - 1], run.factors[last], blocking);
    run.nodes[last - 1] = {.level = left.level + 1, .index = left.index / 2};
    run.nodes.pop_back();
    run.factors.pop_back();
  }
}

}  // namespace

TriangularFactor TriangularFactor::zero(std::int64_t order) {
  return {order, std::vector<double>(static_cast<std::size_t>(order * order), 0.0)};
}

// ---- leaves ------------------------------------------------------------------------------------

struct ChunkFactoriser::Buffers {
  AlignedDoubles matrix;     // column-major, max(rows, order) rows, padded_leading_dimension
  AlignedDoubles t_factors;  // dgeqrt's compact-WY T blocks; not needed afterwards
};

ChunkFactoriser::ChunkFactoriser(std::int64_t order, const QrBlocking& blocking)
    : order_(order), panel_columns_(blocking.panel_columns), buffers_(std::make_unique<Buffers>()) {}
ChunkFactoriser::ChunkFactoriser(ChunkFactoriser&&) noexcept = default;
ChunkFactoriser& ChunkFactoriser::operator=(ChunkFactoriser&&) noexcept = default;
ChunkFactoriser::~ChunkFactoriser() = default;

TriangularFactor ChunkFactoriser::factorise(const double* rows, std::int64_t count, std::span<const double> shift,
                                            std::span<const double> scale) {
  const std::int64_t d = order_;
  if (std::cmp_not_equal(shift.size(), d) || std::cmp_not_equal(scale.size(), d)) {
    throw std::invalid_argument("ChunkFactoriser: shift and scale need one value per column");
  }
  if (count < 1) throw std::invalid_argument("ChunkFactoriser: a chunk needs at least one row");
  if (d == 0) return TriangularFactor::zero(0);
  // Fewer rows than columns: zero rows below keep dgeqrt's m >= n and the Gram matrix.
  const std::int64_t m = std::max(count, d);
  const std::int64_t leading = padded_leading_dimension(m);
  const std::int64_t nb = panel_width(panel_columns_, d);
  buffers_->matrix.reserve(static_cast<std::size_t>(leading * d));
  buffers_->t_factors.reserve(static_cast<std::size_t>(nb * d));
  double* a = buffers_->matrix.data();
  // Transposing copy into column-major, centring and scaling on the way.
  for (std::int64_t i = 0; i < count; ++i) {
    const double* x = rows + i * d;
    for (std::int64_t j = 0; j < d; ++j) a[j * leading + i] = (x[j] - shift[j]) / scale[j];
  }
  for (std::int64_t j = 0; j < d; ++j) std::fill(a + j * leading + count, a + j * leading + m, 0.0);
  linalg::geqrt(m, d, nb, a, leading, buffers_->t_factors.data(), nb);
  return upper_triangle(a, d, leading);
}

TriangularFactor stacked_r_factor(const TriangularFactor& top, const TriangularFactor& bottom,
                                  const QrBlocking& blocking) {
  if (top.order != bottom.order) throw std::invalid_argument("stacked_r_factor: factors of different order");
  const std::int64_t d = top.order;
  if (d == 0) return top;
  // dtpqrt with B triangular (l = d) skips the zeros below both diagonals: half the time of a
  // dgeqrt of the dense 2d × d stack, and the tree has one merge per chunk.
  const std::int64_t nb = panel_width(blocking.panel_columns, d);
  AlignedDoubles upper, lower, t_factors;
  upper.reserve(top.values.size());
  lower.reserve(bottom.values.size());
  t_factors.reserve(static_cast<std::size_t>(nb * d));
  std::copy(top.values.begin(), top.values.end(), upper.data());
  std::copy(bottom.values.begin(), bottom.values.end(), lower.data());
  linalg::tpqrt(d, d, nb, upper.data(), d, lower.data(), d, t_factors.data(), nb, d);
  return upper_triangle(upper.data(), d, d);
}

// ---- the tree ----------------------------------------------------------------------------------

std::vector<TreeNode> canonical_nodes(std::int64_t first, std::int64_t end) {
  if (first < 0 || end < first) throw std::invalid_argument("canonical_nodes: not a range of chunks");
  std::vector<TreeNode> nodes;
  for (std::int64_t p = first; p < end;) {
    // The largest node that starts at p (aligned to its size) and ends by `end`.
    int level = 0;
    while (level < 62) {
      const std::int64_t size = std::int64_t{2} << level;
      if (p % size != 0 || size > end - p) break;
      ++level;
    }
    nodes.push_back({.level = level, .index = p >> level});
    p += std::int64_t{1} << level;
  }
  return nodes;
}

ChunkRun ChunkRun::empty(std::int64_t order, std::int64_t first) {
  ChunkRun run;
  run.order = order;
  run.first_chunk = first;
  run.end_chunk = first;
  return run;
}

void append_leaf(ChunkRun& run, TriangularFactor leaf, const QrBlocking& blocking) {
  if (leaf.order != run.order) throw std::invalid_argument("append_leaf: a leaf of another order");
  push_node(run, {.level = 0, .index = run.end_chunk}, std::move(leaf), blocking);
  ++run.end_chunk;
}

void append_chunks(ChunkRun& run, ChunkFactoriser& factoriser, const double* rows, std::int64_t count,
                   std::span<const double> shift, std::span<const double> scale, const QrBlocking& blocking) {
  if (blocking.chunk_rows < 1) throw std::invalid_argument("append_chunks: chunk_rows must be >= 1");
  for (std::int64_t first = 0; first < count; first += blocking.chunk_rows) {
    const std::int64_t rows_in_chunk = std::min(blocking.chunk_rows, count - first);
    append_leaf(run, factoriser.factorise(rows + first * run.order, rows_in_chunk, shift, scale), blocking);
  }
}

void append_run(ChunkRun& left, ChunkRun&& right, const QrBlocking& blocking) {
  if (left.order != right.order) throw std::invalid_argument("append_run: runs of different order");
  if (right.first_chunk != left.end_chunk) throw std::invalid_argument("append_run: the runs are not adjacent");
  for (std::size_t k = 0; k < right.nodes.size(); ++k) {
    push_node(left, right.nodes[k], std::move(right.factors[k]), blocking);
  }
  left.end_chunk = right.end_chunk;
}

TriangularFactor root_factor(ChunkRun&& run, const QrBlocking& blocking) {
  if (run.first_chunk != 0) throw std::invalid_argument("root_factor: the run must start at chunk 0");
  if (run.factors.empty()) return TriangularFactor::zero(run.order);
  // The nodes of [0, m) have decreasing levels (the binary digits of m). The root's ancestors of
  // the last node have empty right children, so the fold from the right is the tree's value.
  TriangularFactor r = std::move(run.factors.back());
  for (std::size_t k = run.factors.size() - 1; k-- > 0;) {
    if (run.nodes[k].level <= run.nodes[k + 1].level) throw std::logic_error("root_factor: run is not canonical");
    r = stacked_r_factor(run.factors[k], r, blocking);
  }
  return r;
}

TriangularFactor local_r_factor(const linalg::RowBlockView& data, std::span<const double> shift,
                                std::span<const double> scale, const QrBlocking& blocking) {
  const auto d = static_cast<std::int64_t>(data.columns);
  if (shift.size() != data.columns || scale.size() != data.columns) {
    throw std::invalid_argument("local_r_factor: shift and scale need one value per column");
  }
  ChunkRun run = ChunkRun::empty(d, 0);
  ChunkFactoriser factoriser(d, blocking);
  append_chunks(run, factoriser, data.values.data(), static_cast<std::int64_t>(data.local_rows), shift, scale,
                blocking);
  return root_factor(std::move(run), blocking);
}

}  // namespace omniseg::pca
