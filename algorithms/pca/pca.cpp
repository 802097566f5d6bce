#include "algorithms/pca/pca.hpp"

#include <fmt/format.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "algorithms/linalg/blas.hpp"
#include "algorithms/linalg/column_moments.hpp"
#include "engine/communicator_eigen.hpp"

namespace omniseg::pca {
namespace {

/// The R of all ranks' rows, on rank 0 (other ranks return a zero factor). Level k of the binary
/// tree: rank r with r mod 2^(k+1) == 2^k sends its factor to r - 2^k and is done.
TriangularFactor reduce_up_tree(const engine::Communicator& comm, TriangularFactor r, const QrBlocking& blocking) {
  const int rank = comm.rank();
  for (int stride = 1; stride < comm.size(); stride *= 2) {
    if (rank % (2 * stride) == stride) {
      comm.send(r.values, rank - stride);
      return TriangularFactor::zero(r.order);
    }
    if (rank % (2 * stride) == 0 && rank + stride < comm.size()) {
      TriangularFactor partner = TriangularFactor::zero(r.order);
      comm.receive(std::span<double>(partner.values), rank + stride);
      r = stacked_r_factor(r, partner, blocking);
    }
  }
  return r;
}

struct Decomposition {
  Eigen::VectorXd singular_values;  // d, descending
  Eigen::MatrixXd axes;             // d × d, column i the right singular vector of value i
};

/// SVD of the final R: its singular values and right singular vectors are the centred data's.
/// Jacobi SVD: slow only for thousands of columns, and accurate to the last bits for the small
/// singular values of graded R factors.
Decomposition decompose(const TriangularFactor& r) {
  const Eigen::Map<const Eigen::MatrixXd> matrix(r.values.data(), r.order, r.order);
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(matrix, Eigen::ComputeFullV);
  return {svd.singularValues(), svd.matrixV()};
}

}  // namespace

void make_largest_entries_positive(std::vector<double>& matrix, std::size_t columns) {
  if (columns == 0) return;
  for (std::size_t first = 0; first < matrix.size(); first += columns) {
    const auto row = std::span<double>(matrix).subspan(first, columns);
    const auto largest = std::max_element(row.begin(), row.end(),
                                          [](double a, double b) { return std::abs(a) < std::abs(b); });
    if (*largest < 0) {
      for (double& value : row) value = -value;
    }
  }
}

PcaModel fit_pca(const engine::Communicator& comm, const linalg::RowBlockView& data, const PcaOptions& options,
                 engine::PhaseTimers& timers) {
  const std::uint64_t n = data.global_rows;
  const std::uint64_t d = data.columns;
  if (n < 2) throw std::invalid_argument(fmt::format("PCA needs at least 2 rows, the matrix has {}", n));
  if (options.components < 1 || options.components > std::min(n, d)) {
    throw std::invalid_argument(fmt::format("the number of components must lie in [1, min(rows, columns)] = [1, {}], "
                                            "got {}", std::min(n, d), options.components));
  }
  PcaModel model;
  model.rows = n;
  model.columns = d;
  {
    auto phase = timers.phase("pca moments");
    auto moments = linalg::exact_column_moments(comm, data, options.standardize);
    model.mean = std::move(moments.mean);
    model.scale = std::move(moments.scale);
  }
  TriangularFactor r;
  {
    auto phase = timers.phase("pca local qr");
    const std::vector<double> ones(d, 1.0);
    r = local_r_factor(data, model.mean, options.standardize ? std::span<const double>(model.scale) : ones,
                       options.blocking);
  }
  Eigen::VectorXd singular_values;
  Eigen::MatrixXd axes;
  {
    auto phase = timers.phase("pca tree + svd");
    r = reduce_up_tree(comm, std::move(r), options.blocking);
    if (comm.is_root()) {
      auto decomposition = decompose(r);
      singular_values = std::move(decomposition.singular_values);
      axes = std::move(decomposition.axes);
    }
    engine::broadcast(comm, singular_values);
    engine::broadcast(comm, axes);
  }

  const auto q = static_cast<Eigen::Index>(options.components);
  const double degrees_of_freedom = static_cast<double>(n - 1);
  model.all_singular_values.assign(singular_values.data(), singular_values.data() + singular_values.size());
  for (const double s : model.all_singular_values) model.total_variance += s * s / degrees_of_freedom;
  model.components.resize(static_cast<std::size_t>(q) * d);
  for (Eigen::Index i = 0; i < q; ++i) {
    const double s = singular_values[i];
    model.singular_values.push_back(s);
    model.explained_variance.push_back(s * s / degrees_of_freedom);
    model.explained_variance_ratio.push_back(model.total_variance > 0 ? s * s / degrees_of_freedom / model.total_variance
                                                                      : 0.0);
    for (std::size_t j = 0; j < d; ++j) {
      model.components[static_cast<std::size_t>(i) * d + j] = axes(static_cast<Eigen::Index>(j), i);
    }
  }
  make_largest_entries_positive(model.components, d);
  return model;
}

std::vector<double> project(const linalg::RowBlockView& data, const PcaModel& model) {
  const std::size_t d = data.columns;
  const std::size_t q = model.components.size() / std::max<std::size_t>(d, 1);
  std::vector<double> projection(data.local_rows * q);
  constexpr std::uint64_t chunk_rows = 4096;  // centred copy stays in L2
  std::vector<double> centred(std::min(data.local_rows, chunk_rows) * d);
  for (std::uint64_t first = 0; first < data.local_rows; first += chunk_rows) {
    const std::uint64_t rows = std::min(chunk_rows, data.local_rows - first);
    for (std::uint64_t i = 0; i < rows; ++i) {
      const double* x = data.row(first + i);
      for (std::size_t j = 0; j < d; ++j) {
        const double centred_value = x[j] - model.mean[j];
        centred[i * d + j] = model.scale.empty() ? centred_value : centred_value / model.scale[j];
      }
    }
    linalg::gemm_row_major(linalg::Op::none, linalg::Op::transpose, static_cast<std::int64_t>(rows),
                           static_cast<std::int64_t>(q), static_cast<std::int64_t>(d), 1.0, centred.data(),
                           static_cast<std::int64_t>(d), model.components.data(), static_cast<std::int64_t>(d), 0.0,
                           projection.data() + first * q, static_cast<std::int64_t>(q));
  }
  return projection;
}

}  // namespace omniseg::pca
