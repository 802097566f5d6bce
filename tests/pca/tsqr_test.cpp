// The local TSQR kernels against Eigen: the R of the chunk tree (any chunk size, fewer rows than
// columns, no rows) and of two stacked R's equals Eigen's Householder R of the whole centred
// matrix up to the signs of its rows. The tree against a serial reference that builds it node by
// node from its definition: runs of chunks cut anywhere and merged in any order hold the
// reference's node values and reach its root, bit for bit. The sign convention and the
// projection against direct formulas, and the same bits for a row
// wherever its block starts.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cstring>
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

/// The bits of two factors are the same.
::testing::AssertionResult same_bits(const TriangularFactor& a, const TriangularFactor& b) {
  if (a.order != b.order || a.values.size() != b.values.size()) return ::testing::AssertionFailure() << "orders differ";
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    if (std::memcmp(&a.values[i], &b.values[i], sizeof(double)) != 0) {
      return ::testing::AssertionFailure() << "entry " << i << ": " << a.values[i] << " vs " << b.values[i];
    }
  }
  return ::testing::AssertionSuccess();
}

/// The chunk tree built from its definition, one node at a time: leaves from ChunkFactoriser,
/// node (l, i) = stacked_r_factor(left, right), or the left child when the right holds no chunk.
class ReferenceTree {
 public:
  ReferenceTree(const RowMatrix& x, std::span<const double> shift, std::span<const double> scale,
                const QrBlocking& blocking)
      : blocking_(blocking) {
    ChunkFactoriser factoriser(x.cols(), blocking);
    for (Eigen::Index first = 0; first < x.rows(); first += blocking.chunk_rows) {
      const std::int64_t rows = std::min<std::int64_t>(blocking.chunk_rows, x.rows() - first);
      leaves_.push_back(factoriser.factorise(x.data() + first * x.cols(), rows, shift, scale));
    }
  }
  [[nodiscard]] std::int64_t chunks() const { return static_cast<std::int64_t>(leaves_.size()); }
  [[nodiscard]] TriangularFactor node(int level, std::int64_t index) const {
    if (level == 0) return leaves_[static_cast<std::size_t>(index)];
    TriangularFactor left = node(level - 1, 2 * index);
    if ((2 * index + 1) << (level - 1) >= chunks()) return left;
    return stacked_r_factor(left, node(level - 1, 2 * index + 1), blocking_);
  }
  [[nodiscard]] TriangularFactor root() const {
    int level = 0;
    while ((std::int64_t{1} << level) < chunks()) ++level;
    return node(level, 0);
  }

 private:
  QrBlocking blocking_;
  std::vector<TriangularFactor> leaves_;
};

TEST(ChunkTree, CanonicalNodesAreTheMaximalNodesOfTheRange) {
  const auto keys = [](std::int64_t first, std::int64_t end) {
    std::vector<std::pair<int, std::int64_t>> out;
    for (const auto& node : canonical_nodes(first, end)) out.emplace_back(node.level, node.index);
    return out;
  };
  using Keys = std::vector<std::pair<int, std::int64_t>>;
  EXPECT_EQ(keys(0, 5), (Keys{{2, 0}, {0, 4}}));
  EXPECT_EQ(keys(3, 11), (Keys{{0, 3}, {2, 1}, {1, 4}, {0, 10}}));
  EXPECT_EQ(keys(0, 8), (Keys{{3, 0}}));
  EXPECT_TRUE(keys(4, 4).empty());
  for (std::int64_t first = 0; first < 40; ++first) {
    for (std::int64_t end = first; end < 40; ++end) {
      std::int64_t at = first;
      for (const auto& node : canonical_nodes(first, end)) {
        const std::int64_t size = std::int64_t{1} << node.level;
        ASSERT_EQ(node.index * size, at) << first << " " << end;  // consecutive, aligned
        at += size;
        const std::int64_t parent = (node.index / 2) * 2 * size;  // the parent is not inside
        EXPECT_TRUE(parent < first || parent + 2 * size > end) << first << " " << end;
      }
      EXPECT_EQ(at, end);
    }
  }
}

TEST(ChunkTree, RunsCutAnywhereAndMergedInAnyOrderGiveTheReferenceTreeBitForBit) {
  std::mt19937_64 rng(31);
  struct Case {
    Eigen::Index rows, columns;
    std::int64_t chunk_rows;
  };
  for (const Case c : {Case{211, 6, 7}, Case{112, 5, 16}, Case{50, 6, 3}, Case{4, 6, 7}, Case{1, 3, 2},
                       Case{64, 4, 1}, Case{33, 1, 4}}) {
    SCOPED_TRACE(::testing::Message() << c.rows << " x " << c.columns << ", chunks of " << c.chunk_rows);
    const RowMatrix x = random_matrix(c.rows, c.columns, 40 + static_cast<std::uint64_t>(c.rows));
    const Eigen::RowVectorXd mean = x.colwise().mean();
    const std::vector<double> shift(mean.data(), mean.data() + mean.size());
    std::vector<double> scale(static_cast<std::size_t>(c.columns));
    for (std::size_t j = 0; j < scale.size(); ++j) scale[j] = 0.5 + static_cast<double>(j);
    const QrBlocking blocking{.chunk_rows = c.chunk_rows, .panel_columns = 4};
    const ReferenceTree reference(x, shift, scale, blocking);
    const TriangularFactor root = reference.root();
    EXPECT_TRUE(same_bits(local_r_factor(view_of(x), shift, scale, blocking), root));
    const std::int64_t m = reference.chunks();
    for (int trial = 0; trial < 12; ++trial) {
      // Cut the chunks into runs at random boundaries (empty runs included), one factoriser each.
      std::vector<std::int64_t> cuts = {0, m};
      for (int k = 0; k < 4; ++k) cuts.push_back(std::uniform_int_distribution<std::int64_t>(0, m)(rng));
      std::sort(cuts.begin(), cuts.end());
      std::vector<ChunkRun> runs;
      for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
        ChunkRun run = ChunkRun::empty(c.columns, cuts[k]);
        ChunkFactoriser factoriser(c.columns, blocking);
        const std::int64_t first_row = cuts[k] * c.chunk_rows;
        const std::int64_t end_row = std::min<std::int64_t>(cuts[k + 1] * c.chunk_rows, c.rows);
        append_chunks(run, factoriser, x.data() + first_row * c.columns, end_row - first_row, shift, scale, blocking);
        runs.push_back(std::move(run));
      }
      // Merge adjacent runs in a random order; every run holds the reference's canonical nodes.
      const auto expect_canonical = [&](const ChunkRun& run) {
        const auto nodes = canonical_nodes(run.first_chunk, run.end_chunk);
        ASSERT_EQ(run.nodes.size(), nodes.size());
        ASSERT_EQ(run.factors.size(), nodes.size());
        for (std::size_t k = 0; k < nodes.size(); ++k) {
          ASSERT_EQ(run.nodes[k].level, nodes[k].level);
          ASSERT_EQ(run.nodes[k].index, nodes[k].index);
          EXPECT_TRUE(same_bits(run.factors[k], reference.node(nodes[k].level, nodes[k].index)))
              << "node (" << nodes[k].level << ", " << nodes[k].index << ")";
        }
      };
      for (const auto& run : runs) expect_canonical(run);
      while (runs.size() > 1) {
        const auto k = std::uniform_int_distribution<std::size_t>(0, runs.size() - 2)(rng);
        append_run(runs[k], std::move(runs[k + 1]), blocking);
        runs.erase(runs.begin() + static_cast<std::ptrdiff_t>(k) + 1);
        expect_canonical(runs[k]);
      }
      ASSERT_EQ(runs[0].end_chunk, m);
      EXPECT_TRUE(same_bits(root_factor(std::move(runs[0]), blocking), root)) << "trial " << trial;
    }
  }
}

TEST(ChunkTree, RejectsRunsThatAreNotAdjacent) {
  ChunkRun left = ChunkRun::empty(3, 0);
  append_leaf(left, TriangularFactor::zero(3));
  EXPECT_THROW(append_run(left, ChunkRun::empty(3, 2)), std::invalid_argument);
  EXPECT_THROW(static_cast<void>(root_factor(ChunkRun::empty(3, 1))), std::invalid_argument);
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

TEST(Projection, RowsGetTheSameBitsWhereverTheirBlockStarts) {
  // Tiles follow global row ids: blocks cut anywhere project each row as the whole matrix does.
  const RowMatrix x = random_matrix(10000, 6, 17);
  PcaModel model;
  model.columns = 6;
  model.mean = {1, 2, 3, 4, 5, 6};
  const RowMatrix components = random_matrix(3, 6, 18);
  model.components.assign(components.data(), components.data() + components.size());
  const auto whole = project(view_of(x), model);
  std::vector<double> pieces;
  const std::uint64_t cuts[] = {0, 1, 3001, 3001, 4096, 8193, 10000};
  for (std::size_t k = 0; k + 1 < std::size(cuts); ++k) {
    const linalg::RowBlockView block{std::span<const double>(x.data() + cuts[k] * 6, (cuts[k + 1] - cuts[k]) * 6),
                                     cuts[k + 1] - cuts[k], 6, cuts[k], 10000};
    const auto part = project(block, model);
    pieces.insert(pieces.end(), part.begin(), part.end());
  }
  ASSERT_EQ(pieces.size(), whole.size());
  EXPECT_EQ(std::memcmp(pieces.data(), whole.data(), whole.size() * sizeof(double)), 0);
}

}  // namespace
}  // namespace omniseg::pca
