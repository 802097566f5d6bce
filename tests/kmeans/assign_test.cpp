// The local K-means kernels against brute force in long double: the GEMM assignment (ties to the
// lowest centre, several centre blocks, k = 1, d = 1), its independence of where a row sits in its
// rank's block (the same bits for a global row under every split, whatever its tile-mates hold),
// the scalar distance routines, Hamerly's bounds staying valid through many moves of the centres
// (also far from the origin, where GEMM scores cancel), the exact sums and the farthest points.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "algorithms/kmeans/assign.hpp"
#include "engine/exact_sum.hpp"
#include "tests/kmeans/kmeans_test_data.hpp"

namespace omniseg::kmeans {
namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

using test_data::Matrix;

/// Gaussian points (standard deviation 2) around `k` random centres, shifted by `offset`.
Matrix blobs(std::uint64_t n, std::uint64_t d, std::uint64_t k, std::uint64_t seed, double offset = 0) {
  return test_data::blobs(n, d, k, seed, 2, offset);
}

using test_data::perturbed_rows_as_centres;
using test_data::shrinking_move;

long double exact_squared_distance(const double* x, const double* c, std::uint64_t d) {
  long double sum = 0;
  for (std::uint64_t col = 0; col < d; ++col) {
    const long double diff = static_cast<long double>(x[col]) - c[col];
    sum += diff * diff;
  }
  return sum;
}

/// Brute-force nearest and second-nearest squared distances in long double.
struct Exact {
  std::int32_t label = 0;
  long double best = 0, second = 0;
};
Exact exact_nearest(const double* x, const std::vector<double>& centres, std::uint64_t d) {
  Exact result{0, std::numeric_limits<long double>::infinity(), std::numeric_limits<long double>::infinity()};
  for (std::uint64_t j = 0; j < centres.size() / d; ++j) {
    const long double distance = exact_squared_distance(x, centres.data() + j * d, d);
    if (distance < result.best) {
      result.second = result.best;
      result.best = distance;
      result.label = static_cast<std::int32_t>(j);
    } else if (distance < result.second) {
      result.second = distance;
    }
  }
  return result;
}

/// True when the exact nearest centre beats the runner-up by a margin no rounding can close.
bool clear_winner(const Exact& exact, long double scale) { return exact.second - exact.best > 1e-9L * scale; }

std::uint64_t bits(double value) { return std::bit_cast<std::uint64_t>(value); }

TEST(SquaredDistance, MatchesLongDoubleAndTheAllCentresRoutineBitForBit) {
  for (const std::uint64_t d : {1, 3, 33}) {
    for (const std::uint64_t k : {1, 7, 8, 9, 130}) {
      const Matrix data = blobs(50, d, 4, d * 100 + k);
      const auto centres = perturbed_rows_as_centres(data, k, k);
      const CentreSet set(centres, k, d, false);
      std::vector<double> all(set.padded_k());
      for (std::uint64_t i = 0; i < data.rows; ++i) {
        squared_distances_to_all(data.row(i), set, all);
        for (std::uint64_t j = 0; j < k; ++j) {
          const double one = squared_distance(data.row(i), set.centre(j), d);
          ASSERT_EQ(bits(all[j]), bits(one)) << "d " << d << " k " << k << " row " << i << " centre " << j;
          const long double exact = exact_squared_distance(data.row(i), set.centre(j), d);
          EXPECT_LE(std::abs(one - exact), 1e-14L * exact + 1e-300L);
        }
      }
    }
  }
}

TEST(NearestTwo, TiesGoToTheLowestIndexAndOneCentreHasNoSecond) {
  const std::vector<double> values{3, 1, 2, 1, 1};
  const auto nearest = nearest_two(values);
  EXPECT_EQ(nearest.label, 1);
  EXPECT_EQ(nearest.best, 1);
  EXPECT_EQ(nearest.second, 1);
  const std::vector<double> one{5};
  EXPECT_EQ(nearest_two(one).label, 0);
  EXPECT_EQ(nearest_two(one).second, infinity);
}

TEST(NearestInRow, EveryKernelMatchesASequentialScanBitForBit) {
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<int> small(-20, 20);  // few distinct values: many ties
  std::normal_distribution<double> normal;
  for (const std::uint64_t real : {1, 5, 8, 13, 64, 130}) {
    const std::uint64_t padded = (real + 7) / 8 * 8;
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<double> row(padded), norms(padded, infinity);
      for (std::uint64_t j = 0; j < padded; ++j) row[j] = trial % 2 == 0 ? small(rng) : normal(rng);
      for (std::uint64_t j = 0; j < real; ++j) norms[j] = trial % 2 == 0 ? std::abs(small(rng)) : normal(rng) + 3;
      // The sequential definition: scores in index order, strict < for the best.
      NearestTwo expected{0, infinity, infinity};
      for (std::uint64_t j = 0; j < real; ++j) {
        const double score = norms[j] + row[j];
        if (score < expected.best) {
          expected.second = expected.best;
          expected.best = score;
          expected.label = static_cast<std::int32_t>(j);
        } else if (score < expected.second) {
          expected.second = score;
        }
      }
      for (const RowKernel kernel : {RowKernel::portable, RowKernel::avx2}) {
        if (!cpu_runs(kernel)) continue;
        const NearestTwo got = nearest_in_row(row.data(), norms.data(), padded, kernel);
        ASSERT_EQ(got.label, expected.label) << "k " << real << " trial " << trial;
        ASSERT_EQ(bits(got.best), bits(expected.best));
        ASSERT_EQ(bits(got.second), bits(expected.second));
      }
    }
  }
  EXPECT_TRUE(cpu_runs(RowKernel::portable));
}

TEST(CentreSet, HalfGapsAreSafeLowerBoundsOfHalfTheNearestCentreDistance) {
  const Matrix data = blobs(100, 6, 5, 3);
  const auto centres = perturbed_rows_as_centres(data, 40, 4);
  const CentreSet set(centres, 40, 6, true);
  for (std::uint64_t a = 0; a < 40; ++a) {
    long double nearest = std::numeric_limits<long double>::infinity();
    for (std::uint64_t b = 0; b < 40; ++b) {
      if (b != a) nearest = std::min(nearest, std::sqrt(exact_squared_distance(set.centre(a), set.centre(b), 6)));
    }
    EXPECT_LE(set.half_gap(a), nearest / 2);
    EXPECT_GE(set.half_gap(a), nearest / 2 * (1 - 1e-12L));
  }
  const CentreSet single(std::vector<double>(centres.begin(), centres.begin() + 6), 1, 6, true);
  EXPECT_EQ(single.half_gap(0), infinity);
}

TEST(NearestByGemm, MatchesBruteForceForManyShapes) {
  for (const std::uint64_t d : {1, 5, 40}) {
    for (const std::uint64_t k : {1, 3, 16, 130, 300}) {  // 130 and 300: several centre blocks
      const Matrix data = blobs(700, d, 6, d * 1000 + k);
      const auto centres = perturbed_rows_as_centres(data, k, k + 1);
      const CentreSet set(centres, k, d, false);
      std::vector<std::int32_t> labels(data.rows);
      std::vector<double> best(data.rows), second(data.rows);
      GemmWorkspace workspace;
      nearest_by_gemm(data.view(), set, labels, best, second, workspace);
      std::uint64_t checked = 0;
      for (std::uint64_t i = 0; i < data.rows; ++i) {
        const Exact exact = exact_nearest(data.row(i), centres, d);
        long double norm = 0;
        for (std::uint64_t col = 0; col < d; ++col) norm += static_cast<long double>(data.row(i)[col]) * data.row(i)[col];
        const long double scale = norm + set.largest_norm() * set.largest_norm();
        if (k == 1) {
          EXPECT_EQ(labels[i], 0);
          EXPECT_LE(std::abs(norm + best[i] - exact.best), 1e-12L * scale) << "row " << i;
          EXPECT_EQ(second[i], infinity);
          continue;
        }
        // ‖x‖² + score is a squared distance, up to the GEMM's rounding.
        EXPECT_LE(std::abs(norm + best[i] - exact.best), 1e-12L * scale) << "row " << i;
        EXPECT_LE(std::abs(norm + second[i] - exact.second), 1e-12L * scale) << "row " << i;
        if (!clear_winner(exact, scale)) continue;
        ASSERT_EQ(labels[i], exact.label) << "d " << d << " k " << k << " row " << i;
        ++checked;
      }
      if (k > 1) {
        EXPECT_GT(checked, data.rows * 9 / 10);
      }
    }
  }
}

TEST(NearestByGemm, ExactTiesGoToTheLowestCentre) {
  // Points on the perpendicular bisector of two centres, with small integers: every score is exact.
  const Matrix data{4, 2, {0, 0, 0, 1, 0, -3, 0, 2}};
  const std::vector<double> centres{1, 0, -1, 0, 5, 5};
  const CentreSet set(centres, 3, 2, false);
  std::vector<std::int32_t> labels(4, -1);
  GemmWorkspace workspace;
  nearest_by_gemm(data.view(), set, labels, {}, {}, workspace);
  EXPECT_EQ(labels, (std::vector<std::int32_t>{0, 0, 0, 0}));
}

/// Labels and second scores of rows [begin, end) as a rank holding exactly them computes them.
void gemm_block(const Matrix& data, const CentreSet& set, std::uint64_t begin, std::uint64_t end,
                std::vector<std::int32_t>& labels, std::vector<double>& second) {
  GemmWorkspace workspace;
  nearest_by_gemm(data.view(begin, end), set, std::span(labels).subspan(begin, end - begin), {},
                  std::span(second).subspan(begin, end - begin), workspace);
}

TEST(NearestByGemm, AGlobalRowGetsTheSameBitsUnderEverySplit) {
  for (const std::uint64_t d : {3, 37}) {
    const std::uint64_t n = 3 * tile_rows + 41;
    const Matrix data = blobs(n, d, 5, 77 + d);
    const auto centres = perturbed_rows_as_centres(data, 150, 5);  // two centre blocks
    const CentreSet set(centres, 150, d, false);
    std::vector<std::int32_t> whole_labels(n);
    std::vector<double> whole_second(n);
    gemm_block(data, set, 0, n, whole_labels, whole_second);

    std::mt19937_64 rng(d);
    std::vector<std::vector<std::uint64_t>> splits = {
        {0, 1, 100, tile_rows, tile_rows + 1, 600, 600, n},  // one-row, partial and empty blocks
        {0, tile_rows - 1, tile_rows + 1, 2 * tile_rows + 5, n},
        {0, n - 1, n},
    };
    for (int r = 0; r < 5; ++r) {
      std::vector<std::uint64_t> cuts{0, n};
      for (int c = 0; c < 6; ++c) cuts.push_back(rng() % n);
      std::sort(cuts.begin(), cuts.end());
      splits.push_back(cuts);
    }
    for (const auto& cuts : splits) {
      std::vector<std::int32_t> labels(n, -1);
      std::vector<double> second(n, -1);
      for (std::size_t b = 0; b + 1 < cuts.size(); ++b) gemm_block(data, set, cuts[b], cuts[b + 1], labels, second);
      for (std::uint64_t i = 0; i < n; ++i) {
        ASSERT_EQ(labels[i], whole_labels[i]) << "d " << d << " row " << i;
        ASSERT_EQ(bits(second[i]), bits(whole_second[i])) << "d " << d << " row " << i;
      }
    }
  }
}

TEST(NearestByGemm, ARowsBitsDoNotDependOnItsTileMates) {
  const std::uint64_t d = 19, n = 2 * tile_rows;
  const Matrix data = blobs(n, d, 4, 5);
  const auto centres = perturbed_rows_as_centres(data, 20, 6);
  const CentreSet set(centres, 20, d, false);
  std::vector<std::int32_t> labels(n);
  std::vector<double> second(n);
  GemmWorkspace workspace;
  nearest_by_gemm(data.view(), set, labels, {}, second, workspace);
  // Replace every row of both tiles except a few witnesses with other values.
  Matrix other = blobs(n, d, 4, 999);
  const std::vector<std::uint64_t> witnesses{0, 3, tile_rows - 1, tile_rows, n - 2};
  for (const std::uint64_t w : witnesses) std::copy(data.row(w), data.row(w) + d, other.values.begin() + w * d);
  std::vector<std::int32_t> other_labels(n);
  std::vector<double> other_second(n);
  nearest_by_gemm(other.view(), set, other_labels, {}, other_second, workspace);
  for (const std::uint64_t w : witnesses) {
    EXPECT_EQ(other_labels[w], labels[w]);
    EXPECT_EQ(bits(other_second[w]), bits(second[w])) << "row " << w;
  }
}

/// Checks Hamerly's invariants against long double distances to `centres`.
void expect_valid_bounds(const Matrix& data, const std::vector<double>& centres, const std::vector<std::int32_t>& labels,
                         const std::vector<double>& upper, const std::vector<double>& lower) {
  const std::uint64_t d = data.columns, k = centres.size() / d;
  for (std::uint64_t i = 0; i < data.rows; ++i) {
    const auto label = static_cast<std::uint64_t>(labels[i]);
    ASSERT_GE(static_cast<long double>(upper[i]),
              std::sqrt(exact_squared_distance(data.row(i), centres.data() + label * d, d)))
        << "row " << i;
    for (std::uint64_t j = 0; j < k; ++j) {
      if (j == label) continue;
      ASSERT_LE(static_cast<long double>(lower[i]),
                std::sqrt(exact_squared_distance(data.row(i), centres.data() + j * d, d)))
          << "row " << i << " centre " << j;
    }
  }
}

void run_hamerly_steps(const Matrix& data, std::uint64_t k, std::uint64_t seed) {
  const std::uint64_t d = data.columns, n = data.rows;
  std::vector<double> centres = perturbed_rows_as_centres(data, k, seed);
  std::vector<std::int32_t> labels(n), next(n);
  std::vector<double> upper(n), lower(n);
  GemmWorkspace workspace;
  {
    const CentreSet set(centres, k, d, true);
    nearest_by_gemm(data.view(), set, labels, upper, lower, workspace);
    bounds_from_scores(row_squared_norms(data.view()), set, upper, lower, upper, lower);
  }
  expect_valid_bounds(data, centres, labels, upper, lower);
  std::mt19937_64 rng(seed);
  std::uint64_t failing_total = 0;
  for (int step = 0; step < 12; ++step) {
    const std::vector<double> moved = shrinking_move(centres, d, step, rng);  // some centres stay put
    const auto drift = centre_drift(centres, moved, k, d);
    const CentreSet set(moved, k, d, true);
    const std::uint64_t failing = widen_bounds(labels, drift, set, upper, lower);
    EXPECT_LE(failing, n);
    expect_valid_bounds(data, moved, labels, upper, lower);  // widening keeps them valid for the new centres
    const std::uint64_t scans = hamerly_relabel(data.view(), set, labels, next, upper, lower);
    EXPECT_LE(scans, failing);  // only rows whose bounds failed, and fewer after tightening
    failing_total += failing;
    labels.swap(next);
    centres = moved;
    expect_valid_bounds(data, centres, labels, upper, lower);
    for (std::uint64_t i = 0; i < n; ++i) {
      const Exact exact = exact_nearest(data.row(i), centres, d);
      if (exact.second - exact.best > 1e-9L * exact.best + 1e-12L) {
        ASSERT_EQ(labels[i], exact.label) << "step " << step << " row " << i;
      }
    }
  }
  // The point of the bounds: most rows skip most steps.
  EXPECT_LT(failing_total, 12 * n / 2);
}

TEST(Hamerly, BoundsStayValidAndLabelsStayNearestThroughManyMoves) {
  run_hamerly_steps(blobs(600, 4, 6, 11), 8, 1);
  run_hamerly_steps(blobs(300, 1, 3, 12), 5, 2);   // d = 1
  run_hamerly_steps(blobs(300, 30, 4, 13), 40, 3);
}

TEST(Hamerly, BoundsAreValidFarFromTheOriginWhereGemmScoresCancel) {
  run_hamerly_steps(blobs(400, 6, 5, 21, 1e7), 6, 4);
}

TEST(Hamerly, OneCentreNeverFails) {
  const Matrix data = blobs(100, 3, 1, 8);
  const std::vector<double> centre(data.row(0), data.row(0) + 3);
  const CentreSet set(centre, 1, 3, true);
  std::vector<std::int32_t> labels(100), next(100);
  std::vector<double> upper(100), lower(100);
  GemmWorkspace workspace;
  nearest_by_gemm(data.view(), set, labels, upper, lower, workspace);
  bounds_from_scores(row_squared_norms(data.view()), set, upper, lower, upper, lower);
  std::vector<double> moved = centre;
  moved[0] += 1;
  const CentreSet moved_set(moved, 1, 3, true);
  EXPECT_EQ(widen_bounds(labels, centre_drift(centre, moved, 1, 3), moved_set, upper, lower), 0u);
  EXPECT_EQ(hamerly_relabel(data.view(), moved_set, labels, next, upper, lower), 0u);
  EXPECT_EQ(next, std::vector<std::int32_t>(100, 0));
}

TEST(Hamerly, ExactTiesFallThroughToTheLowestCentre) {
  // x = 0 is equidistant from ±1: the bounds cannot prove either, the scan picks centre 0.
  const Matrix data{1, 1, {0}};
  const std::vector<double> centres{1, -1};
  const CentreSet set(centres, 2, 1, true);
  std::vector<std::int32_t> labels{1}, next{-1};
  std::vector<double> upper{1}, lower{1};
  const auto drift = centre_drift(centres, centres, 2, 1);
  EXPECT_EQ(widen_bounds(labels, drift, set, upper, lower), 1u);
  EXPECT_EQ(hamerly_relabel(data.view(), set, labels, next, upper, lower), 1u);
  EXPECT_EQ(next[0], 0);
}

TEST(CentreDrift, LargestAndSecondLargest) {
  const std::vector<double> old_centres{0, 0, 0, 0, 0, 0};
  const std::vector<double> new_centres{3, 4, 0, 1, 0, 2};
  const auto drift = centre_drift(old_centres, new_centres, 3, 2);
  EXPECT_EQ(drift.drift, (std::vector<double>{5, 1, 2}));
  EXPECT_EQ(drift.largest, 5);
  EXPECT_EQ(drift.largest_centre, 0u);
  EXPECT_EQ(drift.second_largest, 2);
}

TEST(ExactSums, IndependentOfRowOrderAndMovesEqualRecounting) {
  const std::uint64_t d = 7, k = 5, n = 900;
  const Matrix data = blobs(n, d, 3, 31);
  std::vector<double> largest(d, 0);
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::uint64_t col = 0; col < d; ++col) largest[col] = std::max(largest[col], std::abs(data.row(i)[col]));
  }
  const auto scales = engine::FixedPointScales::for_max_abs(largest);
  std::mt19937_64 rng(5);
  std::vector<std::int32_t> labels(n), relabelled(n);
  for (auto& label : labels) label = static_cast<std::int32_t>(rng() % k);
  for (auto& label : relabelled) label = static_cast<std::int32_t>(rng() % k);

  std::vector<engine::Int128> sums(k * sums_stride(d), 0);
  add_rows_to_sums(data.view(), labels, scales, sums);
  // Reversed row order, in two blocks as two ranks would add them.
  Matrix reversed{n, d, {}};
  std::vector<std::int32_t> reversed_labels;
  for (std::uint64_t i = n; i-- > 0;) {
    reversed.values.insert(reversed.values.end(), data.row(i), data.row(i) + d);
    reversed_labels.push_back(labels[i]);
  }
  std::vector<engine::Int128> reversed_sums(k * sums_stride(d), 0);
  add_rows_to_sums(reversed.view(0, 400), std::span(reversed_labels).first(400), scales, reversed_sums);
  add_rows_to_sums(reversed.view(400, n), std::span(reversed_labels).subspan(400), scales, reversed_sums);
  EXPECT_TRUE(sums == reversed_sums);

  // Counts and sums against long double.
  for (std::uint64_t j = 0; j < k; ++j) {
    std::uint64_t count = 0;
    for (const auto label : labels) count += static_cast<std::uint64_t>(label) == j ? 1 : 0;
    EXPECT_EQ(static_cast<std::uint64_t>(sums[j * sums_stride(d) + d]), count);
    for (std::uint64_t col = 0; col < d; ++col) {
      long double exact = 0;
      for (std::uint64_t i = 0; i < n; ++i) exact += static_cast<std::uint64_t>(labels[i]) == j ? data.row(i)[col] : 0;
      EXPECT_NEAR(scales.to_double(col, sums[j * sums_stride(d) + col]), static_cast<double>(exact),
                  1e-12 * largest[col] * static_cast<double>(count));
    }
  }

  std::vector<engine::Int128> moved = sums;
  std::uint64_t expected_changes = 0;
  for (std::uint64_t i = 0; i < n; ++i) expected_changes += labels[i] != relabelled[i] ? 1 : 0;
  EXPECT_EQ(move_changed_rows(data.view(), labels, relabelled, scales, moved), expected_changes);
  std::vector<engine::Int128> recounted(k * sums_stride(d), 0);
  add_rows_to_sums(data.view(), relabelled, scales, recounted);
  EXPECT_TRUE(moved == recounted);
}

TEST(FarthestRows, FarthestFirstTiesToTheLowerGlobalRow) {
  // Rows at distances 2, 5, 5, 0, 5, 1 from centre 0 (at the origin), held from global row 10.
  const Matrix data{6, 1, {2, -5, 5, 0, 5, 1}};
  const std::vector<double> centre{0};
  const CentreSet set(centre, 1, 1, false);
  const std::vector<std::int32_t> labels(6, 0);
  const linalg::RowBlockView view{data.values, 6, 1, 10, 100};
  const auto far = farthest_rows(view, set, labels, 4);
  ASSERT_EQ(far.size(), 4u);
  EXPECT_EQ(far[0].global_row, 11u);
  EXPECT_EQ(far[1].global_row, 12u);
  EXPECT_EQ(far[2].global_row, 14u);
  EXPECT_EQ(far[3].global_row, 10u);
  EXPECT_EQ(far[0].squared_distance, 25);
  EXPECT_EQ(farthest_rows(view, set, labels, 10).size(), 6u);  // never more than the block holds
  EXPECT_TRUE(farthest_rows(linalg::RowBlockView{{}, 0, 1, 0, 100}, set, {}, 3).empty());  // an empty rank
}

}  // namespace
}  // namespace omniseg::kmeans
