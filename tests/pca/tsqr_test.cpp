// The local TSQR kernels against Eigen: the R of a streamed, chunked QR (any chunk size, fewer
// rows than columns, no rows) and of two stacked R's equals Eigen's Householder R of the whole
// centred matrix up to the signs of its rows; the sign convention and the projection against
// direct formulas.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <random>
#include <vector>

#include "algorithms/pca/pca.hpp"
#include "algorithms/pca/tsqr.hpp"

namespace omniseg::pca {
namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMatrix random_matrix(Eigen::Index rows, Eigen::Index columns, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrix m(rows, columns);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = normal(rng) + 5.0;  // off-centre on purpose
  return m;
}

linalg::RowBlockView view_of(const RowMatrix& m) {
  const auto rows = static_cast<std::uint64_t>(m.rows());
  return {std::span<const double>(m.data(), static_cast<std::size_t>(m.size())), rows,
          static_cast<std::uint64_t>(m.cols()), 0, rows};
}

/// R with a non-negative diagonal (QR fixes R only up to the sign of each row).
Eigen::MatrixXd normalised(Eigen::MatrixXd r) {
  for (Eigen::Index i = 0; i < r.rows(); ++i) {
    if (r(i, i) < 0) r.row(i) *= -1.0;
  }
  return r;
}

Eigen::MatrixXd as_matrix(const TriangularFactor& r) {
  return Eigen::Map<const Eigen::MatrixXd>(r.values.data(), r.order, r.order);
}

/// Eigen's R of the whole matrix, padded with zero rows to d × d.
Eigen::MatrixXd reference_r(const Eigen::MatrixXd& centred) {
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(centred);
  Eigen::MatrixXd r = Eigen::MatrixXd::Zero(centred.cols(), centred.cols());
  const Eigen::Index rows = std::min(centred.rows(), centred.cols());
  r.topRows(rows) = qr.matrixQR().topRows(rows).triangularView<Eigen::Upper>();
  return r;
}

void expect_same_r(const Eigen::MatrixXd& actual, const Eigen::MatrixXd& expected) {
  const double tolerance = 1e-12 * std::max(1.0, expected.norm());
  // Rows of R belonging to a zero singular value may differ; compare the Gram matrices, which are
  // unique, and the normalised factors where the matrix has full rank.
  EXPECT_LE((actual.transpose() * actual - expected.transpose() * expected).norm(),
            tolerance * std::max(1.0, expected.norm()));
  if (expected.diagonal().cwiseAbs().minCoeff() > 1e-8 * expected.norm()) {
    EXPECT_LE((normalised(actual) - normalised(expected)).norm(), tolerance);
  }
}

TEST(LocalRFactor, EqualsHouseholderRForEveryChunkSize) {
  const RowMatrix x = random_matrix(301, 7, 11);
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const std::vector<double> shift(mean.data(), mean.data() + mean.size());
  const std::vector<double> ones(7, 1.0);
  const Eigen::MatrixXd expected = reference_r(x.rowwise() - mean);
  for (const std::int64_t chunk : {1, 3, 7, 8, 64, 300, 301, 4096}) {
    for (const std::int64_t panel : {1, 4, 16}) {
      SCOPED_TRACE(::testing::Message() << "chunk " << chunk << " panel " << panel);
      const auto r = local_r_factor(view_of(x), shift, ones, {.chunk_rows = chunk, .panel_columns = panel});
      expect_same_r(as_matrix(r), expected);
    }
  }
}

TEST(LocalRFactor, ScalesColumnsAndHandlesFewRows) {
  const RowMatrix x = random_matrix(4, 9, 12);  // fewer rows than columns
  std::vector<double> shift(9), scale(9);
  for (int j = 0; j < 9; ++j) {
    shift[static_cast<std::size_t>(j)] = 0.5 * j;
    scale[static_cast<std::size_t>(j)] = 1.0 + j;
  }
  Eigen::MatrixXd scaled = x;
  for (int j = 0; j < 9; ++j) scaled.col(j) = (scaled.col(j).array() - 0.5 * j) / (1.0 + j);
  const auto r = local_r_factor(view_of(x), shift, scale, {.chunk_rows = 3});
  expect_same_r(as_matrix(r), reference_r(scaled));
}

TEST(LocalRFactor, NoRowsGiveZero) {
  const RowMatrix x(0, 5);
  const std::vector<double> zeros(5, 0.0), ones(5, 1.0);
  const auto r = local_r_factor(view_of(x), zeros, ones);
  EXPECT_EQ(as_matrix(r), Eigen::MatrixXd::Zero(5, 5));
}

TEST(StackedRFactor, EqualsRofStackedRows) {
  const RowMatrix a = random_matrix(40, 6, 13), b = random_matrix(25, 6, 14);
  const std::vector<double> zeros(6, 0.0), ones(6, 1.0);
  const auto ra = local_r_factor(view_of(a), zeros, ones), rb = local_r_factor(view_of(b), zeros, ones);
  Eigen::MatrixXd both(65, 6);
  both << Eigen::MatrixXd(a), Eigen::MatrixXd(b);
  expect_same_r(as_matrix(stacked_r_factor(ra, rb)), reference_r(both));
}

TEST(SignConvention, LargestMagnitudeEntryBecomesPositive) {
  std::vector<double> m = {0.1, -0.9, 0.3,   // largest is negative: flip
                           0.5, 0.2, -0.4,   // largest is positive: keep
                           -0.5, 0.5, 0.0};  // exact tie: the first decides, so flip
  make_largest_entries_positive(m, 3);
  const std::vector<double> expected = {-0.1, 0.9, -0.3, 0.5, 0.2, -0.4, 0.5, -0.5, -0.0};
  EXPECT_EQ(m, expected);
}

TEST(Projection, EqualsCentredScaledTimesComponents) {
  const RowMatrix x = random_matrix(5000, 5, 15);  // more than one internal chunk
  PcaModel model;
  model.columns = 5;
  model.mean = {1, 2, 3, 4, 5};
  model.scale = {1, 2, 4, 8, 16};
  const RowMatrix components = random_matrix(2, 5, 16);
  model.components.assign(components.data(), components.data() + components.size());
  const auto projection = project(view_of(x), model);
  ASSERT_EQ(projection.size(), 5000u * 2);
  for (Eigen::Index i = 0; i < x.rows(); i += 97) {
    for (Eigen::Index c = 0; c < 2; ++c) {
      double expected = 0;
      for (Eigen::Index j = 0; j < 5; ++j) {
        expected += (x(i, j) - model.mean[static_cast<std::size_t>(j)]) / model.scale[static_cast<std::size_t>(j)] *
                    components(c, j);
      }
      EXPECT_NEAR(projection[static_cast<std::size_t>(i * 2 + c)], expected, 1e-12 * (1 + std::abs(expected)));
    }
  }
}

}  // namespace
}  // namespace omniseg::pca
