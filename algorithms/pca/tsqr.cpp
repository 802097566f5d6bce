#include "algorithms/pca/tsqr.hpp"

#include <algorithm>
#include <stdexcept>

#include "algorithms/linalg/blas.hpp"

namespace omniseg::pca {
namespace {

/// A column-major (order + rows) × order matrix whose top order rows hold an R factor and whose
/// remaining rows take the next rows to absorb.
class StackedBuffer {
 public:
  StackedBuffer(std::int64_t order, std::int64_t max_rows)
      : order_(order),
        leading_(order + max_rows),
        values_(static_cast<std::size_t>(leading_ * order), 0.0),
        t_factors_(static_cast<std::size_t>(order * order), 0.0) {}

  [[nodiscard]] double& at(std::int64_t row, std::int64_t column) {
    return values_[static_cast<std::size_t>(column * leading_ + row)];
  }
  /// The i-th appended row's element j.
  [[nodiscard]] double& appended(std::int64_t i, std::int64_t column) { return at(order_ + i, column); }

  void load_top(const TriangularFactor& r) {
    for (std::int64_t j = 0; j < order_; ++j) {
      for (std::int64_t i = 0; i < order_; ++i) at(i, j) = r(i, j);
    }
  }

  /// Factorises the top order + appended_rows rows in place; R ends in the upper triangle of the
  /// top, Householder vectors below it.
  void factorise(std::int64_t appended_rows, std::int64_t panel_columns) {
    const std::int64_t nb = std::clamp<std::int64_t>(panel_columns, 1, order_);
    linalg::geqrt(order_ + appended_rows, order_, nb, values_.data(), leading_, t_factors_.data(), nb);
  }

  [[nodiscard]] TriangularFactor upper_triangle() {
    TriangularFactor r = TriangularFactor::zero(order_);
    for (std::int64_t j = 0; j < order_; ++j) {
      for (std::int64_t i = 0; i <= j; ++i) r.values[static_cast<std::size_t>(j * order_ + i)] = at(i, j);
    }
    return r;
  }

 private:
  std::int64_t order_;
  std::int64_t leading_;  // leading dimension: order + max appended rows
  std::vector<double> values_;
  std::vector<double> t_factors_;  // dgeqrt's compact-WY T blocks; not needed afterwards
};

}  // namespace

TriangularFactor TriangularFactor::zero(std::int64_t order) {
  return {order, std::vector<double>(static_cast<std::size_t>(order * order), 0.0)};
}

TriangularFactor local_r_factor(const linalg::RowBlockView& data, std::span<const double> shift,
                                std::span<const double> scale, const QrBlocking& blocking) {
  const auto d = static_cast<std::int64_t>(data.columns);
  if (shift.size() != data.columns || scale.size() != data.columns) {
    throw std::invalid_argument("local_r_factor: shift and scale need one value per column");
  }
  if (blocking.chunk_rows < 1) throw std::invalid_argument("local_r_factor: chunk_rows must be >= 1");
  TriangularFactor r = TriangularFactor::zero(d);
  if (data.local_rows == 0 || d == 0) return r;
  const auto total_rows = static_cast<std::int64_t>(data.local_rows);
  const std::int64_t chunk = std::min(blocking.chunk_rows, total_rows);
  StackedBuffer buffer(d, chunk);
  for (std::int64_t first = 0; first < total_rows; first += chunk) {
    const std::int64_t rows = std::min(chunk, total_rows - first);
    buffer.load_top(r);
    // Transposing copy into column-major, centring and scaling on the way.
    for (std::int64_t i = 0; i < rows; ++i) {
      const double* x = data.row(static_cast<std::uint64_t>(first + i));
      for (std::int64_t j = 0; j < d; ++j) buffer.appended(i, j) = (x[j] - shift[j]) / scale[j];
    }
    buffer.factorise(rows, blocking.panel_columns);
    r = buffer.upper_triangle();
  }
  return r;
}

TriangularFactor stacked_r_factor(const TriangularFactor& top, const TriangularFactor& bottom,
                                  const QrBlocking& blocking) {
  if (top.order != bottom.order) throw std::invalid_argument("stacked_r_factor: factors of different order");
  const std::int64_t d = top.order;
  if (d == 0) return top;
  StackedBuffer buffer(d, d);
  buffer.load_top(top);
  for (std::int64_t i = 0; i < d; ++i) {
    for (std::int64_t j = 0; j < d; ++j) buffer.appended(i, j) = bottom(i, j);
  }
  buffer.factorise(d, blocking.panel_columns);
  return buffer.upper_triangle();
}

}  // namespace omniseg::pca
