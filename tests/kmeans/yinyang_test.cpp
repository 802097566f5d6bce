// Yinyang's kernels against brute force in long double: the grouping of centres (a partition,
// deterministic, recovering well-separated clusters of centres; bad group ids rejected), the
// distances to one group's centres (the same bits as squared_distance for every group size and
// vector remainder), the group minima of the GEMM pass and the bounds made from them, and the
// Yinyang step through many moves of the centres: bounds stay valid for the moved centres,
// labels stay the nearest centres, exact ties go to the lowest index, and a row's bits do not depend
// on the rows beside it.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "algorithms/kmeans/assign.hpp"
#include "algorithms/kmeans/yinyang.hpp"
#include "tests/kmeans/kmeans_test_data.hpp"

namespace omniseg::kmeans {
namespace {

using test_data::Matrix;

constexpr long double long_infinity = std::numeric_limits<long double>::infinity();

long double exact_distance(const double* x, const double* c, std::uint64_t d) {
  long double sum = 0;
  for (std::uint64_t col = 0; col < d; ++col) {
    const long double diff = static_cast<long double>(x[col]) - c[col];
    sum += diff * diff;
  }
  return std::sqrt(sum);
}

using test_data::perturbed_rows_as_centres;
using test_data::shrinking_move;

/// Every centre in exactly one group, members ascending and matching group_of.
void expect_partition(const CentreGroups& groups, std::uint64_t k) {
  ASSERT_EQ(groups.k(), k);
  std::vector<int> seen(k, 0);
  for (std::uint64_t g = 0; g < groups.count(); ++g) {
    const auto members = groups.members(g);
    ASSERT_FALSE(members.empty()) << "group " << g;
    EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));
    for (const std::uint32_t j : members) {
      ++seen[j];
      EXPECT_EQ(groups.group_of(j), g);
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(k));
}

TEST(CentreGroups, ClusteringIsADeterministicPartition) {
  const Matrix data = test_data::blobs(500, 6, 5, 3);
  for (const std::uint64_t k : {1u, 2u, 7u, 40u, 130u}) {
    const auto centres = perturbed_rows_as_centres(data, k, k);
    for (const std::uint64_t count : {1u, 3u, 8u, 200u}) {
      const auto groups = CentreGroups::cluster(centres, k, 6, count);
      expect_partition(groups, k);
      EXPECT_LE(groups.count(), std::min(count, k));
      const auto again = CentreGroups::cluster(centres, k, 6, count);
      EXPECT_TRUE(std::equal(groups.ids().begin(), groups.ids().end(), again.ids().begin(), again.ids().end()));
    }
  }
}

TEST(CentreGroups, WellSeparatedClustersOfCentresBecomeTheGroups) {
  // Four tight clusters of five centres each, far apart, listed interleaved.
  const std::uint64_t d = 3, k = 20;
  std::vector<double> centres;
  for (std::uint64_t j = 0; j < k; ++j) {
    const double base = 100.0 * static_cast<double>(j % 4);
    for (std::uint64_t col = 0; col < d; ++col) centres.push_back(base + 0.01 * static_cast<double>(j * 3 + col));
  }
  const auto groups = CentreGroups::cluster(centres, k, d, 4);
  ASSERT_EQ(groups.count(), 4u);
  for (std::uint64_t j = 0; j < k; ++j) EXPECT_EQ(groups.group_of(j), groups.group_of(j % 4)) << "centre " << j;
}

TEST(CentreGroups, CountGrowsWithKAndStaysWithinTheRowsMemory) {
  EXPECT_EQ(yinyang_group_count(1, 32), 1u);
  EXPECT_EQ(yinyang_group_count(16, 32), 1u);
  EXPECT_EQ(yinyang_group_count(17, 32), 2u);
  EXPECT_EQ(yinyang_group_count(256, 32), 16u);
  EXPECT_EQ(yinyang_group_count(1024, 32), 32u);   // at most d bounds a row
  EXPECT_EQ(yinyang_group_count(4096, 128), 64u);  // and never more than 64
  EXPECT_EQ(yinyang_group_count(256, 2), 4u);      // small d: still 4 groups
}

TEST(CentreGroups, RejectsIdsThatAreNotAPartition) {
  EXPECT_THROW(CentreGroups(std::vector<std::int32_t>{}), std::invalid_argument);
  EXPECT_THROW(CentreGroups(std::vector<std::int32_t>{0, -1, 1}), std::invalid_argument);
  EXPECT_THROW(CentreGroups(std::vector<std::int32_t>{0, 2, 2}), std::invalid_argument);  // group 1 empty
  const CentreGroups fine(std::vector<std::int32_t>{1, 0, 1, 1});
  EXPECT_EQ(fine.count(), 2u);
  expect_partition(fine, 4);
  EXPECT_THROW(CentreGroups::cluster(std::vector<double>{1, 2, 3}, 2, 2, 1), std::invalid_argument);
}

TEST(Yinyang, GroupDistancesAreTheBitsOfSquaredDistance) {
  for (const std::uint64_t d : {1u, 3u, 32u}) {
    const Matrix data = test_data::blobs(40, d, 3, d);
    // Group sizes 1 to 21: one to six vector blocks, every remainder.
    std::vector<std::int32_t> ids;
    for (std::int32_t g = 0; g < 21; ++g) ids.insert(ids.end(), static_cast<std::size_t>(g) + 1, g);
    std::mt19937_64 rng(d);
    std::shuffle(ids.begin(), ids.end(), rng);  // members scattered over the centre indices
    const std::uint64_t k = ids.size();
    const auto values = perturbed_rows_as_centres(data, k, d + 1);
    const CentreSet set(values, k, d, false);
    const CentreGroups groups(ids);
    const GroupedCentres grouped(set, groups);
    std::vector<double> out(grouped.total_slots());
    for (std::uint64_t i = 0; i < data.rows; ++i) {
      for (std::uint64_t g = 0; g < groups.count(); ++g) {
        squared_distances_to_group(data.row(i), grouped, g, out.data());
        const auto members = groups.members(g);
        for (std::size_t m = 0; m < members.size(); ++m) {
          ASSERT_EQ(std::bit_cast<std::uint64_t>(out[m]),
                    std::bit_cast<std::uint64_t>(squared_distance(data.row(i), set.centre(members[m]), d)))
              << "d " << d << " row " << i << " group " << g << " member " << m;
        }
      }
    }
  }
}

/// Yinyang's invariants against long double distances: the upper bound covers the label's
/// distance, each group's lower bound every other centre of the group.
void expect_valid_bounds(const Matrix& data, const std::vector<double>& centres, const CentreGroups& groups,
                         const std::vector<std::int32_t>& labels, const std::vector<double>& upper,
                         const std::vector<double>& lower) {
  const std::uint64_t d = data.columns, k = centres.size() / d, g_count = groups.count();
  for (std::uint64_t i = 0; i < data.rows; ++i) {
    const auto label = static_cast<std::uint64_t>(labels[i]);
    ASSERT_GE(static_cast<long double>(upper[i]), exact_distance(data.row(i), centres.data() + label * d, d))
        << "row " << i;
    for (std::uint64_t j = 0; j < k; ++j) {
      if (j == label) continue;
      ASSERT_LE(static_cast<long double>(lower[i * g_count + groups.group_of(j)]),
                exact_distance(data.row(i), centres.data() + j * d, d))
          << "row " << i << " centre " << j;
    }
  }
}

/// The nearest centre in long double when it is clear (the runner-up is more than a relative 1e-9
/// farther), else -1.
std::int64_t clear_nearest(const double* x, const std::vector<double>& centres, std::uint64_t d) {
  long double best = long_infinity, second = long_infinity;
  std::int64_t label = -1;
  for (std::uint64_t j = 0; j < centres.size() / d; ++j) {
    const long double distance = exact_distance(x, centres.data() + j * d, d);
    if (distance < best) {
      second = best;
      best = distance;
      label = static_cast<std::int64_t>(j);
    } else {
      second = std::min(second, distance);
    }
  }
  return second - best > 1e-9L * best + 1e-12L ? label : -1;
}

TEST(Yinyang, GemmGroupScoresGiveValidBoundsAndTheSameLabels) {
  for (const double offset : {0.0, 1e7}) {  // far from the origin the GEMM scores cancel
    const Matrix data = test_data::blobs(700, 7, 6, 5, 2, offset);
    const std::uint64_t k = 150, d = 7;  // two centre blocks of the GEMM
    const auto centres = perturbed_rows_as_centres(data, k, 6);
    const CentreSet set(centres, k, d, true);
    const auto groups = CentreGroups::cluster(centres, k, d, 9);
    std::vector<std::int32_t> labels(data.rows), plain_labels(data.rows);
    std::vector<double> upper(data.rows), lower(data.rows * groups.count()), plain_best(data.rows);
    GemmWorkspace workspace;
    const GroupScores scores{groups.ids(), groups.count(), lower};
    nearest_by_gemm(data.view(), set, labels, upper, {}, workspace, &scores);
    nearest_by_gemm(data.view(), set, plain_labels, plain_best, {}, workspace);
    // The group minima are the smallest scores of each group's other centres: their overall
    // minimum is the second-smallest score.
    std::vector<double> second(data.rows);
    nearest_by_gemm(data.view(), set, plain_labels, {}, second, workspace);
    for (std::uint64_t i = 0; i < data.rows; ++i) {
      const auto row = std::span<const double>(lower).subspan(i * groups.count(), groups.count());
      ASSERT_EQ(std::bit_cast<std::uint64_t>(*std::min_element(row.begin(), row.end())),
                std::bit_cast<std::uint64_t>(second[i]))
          << "row " << i;
    }
    EXPECT_EQ(labels, plain_labels);  // the group minima change nothing else
    for (std::uint64_t i = 0; i < data.rows; ++i) {
      ASSERT_EQ(std::bit_cast<std::uint64_t>(upper[i]), std::bit_cast<std::uint64_t>(plain_best[i]));
    }
    group_bounds_from_scores(row_squared_norms(data.view()), set, upper, lower, groups.count(), upper, lower);
    expect_valid_bounds(data, centres, groups, labels, upper, lower);
    if (offset == 0) {
      // Near the origin the bounds are tight: each group's bound is its nearest other centre.
      for (std::uint64_t i = 0; i < data.rows; ++i) {
        for (std::uint64_t g = 0; g < groups.count(); ++g) {
          long double nearest = long_infinity;
          for (const std::uint32_t j : groups.members(g)) {
            if (j != static_cast<std::uint32_t>(labels[i])) {
              nearest = std::min(nearest, exact_distance(data.row(i), centres.data() + j * d, d));
            }
          }
          const long double bound = lower[i * groups.count() + g];
          if (std::isinf(nearest)) {
            EXPECT_TRUE(std::isinf(bound));
          } else {
            EXPECT_GE(bound, nearest * (1 - 1e-9L)) << "row " << i << " group " << g;
          }
        }
      }
    }
  }
}

/// The first bounds as the driver sets them: a GEMM pass keeping each group's smallest score.
void bounds_by_gemm(const Matrix& data, const CentreSet& set, const CentreGroups& groups,
                    std::vector<std::int32_t>& labels, std::vector<double>& upper, std::vector<double>& lower) {
  GemmWorkspace workspace;
  const GroupScores scores{groups.ids(), groups.count(), lower};
  nearest_by_gemm(data.view(), set, labels, upper, {}, workspace, &scores);
  group_bounds_from_scores(row_squared_norms(data.view()), set, upper, lower, groups.count(), upper, lower);
}

/// Sets bounds by a GEMM pass, then runs Yinyang steps through shrinking random moves of the
/// centres (some stay put), checking the bounds and labels after each.
void run_yinyang_steps(const Matrix& data, std::uint64_t k, std::uint64_t group_count, std::uint64_t seed) {
  const std::uint64_t d = data.columns, n = data.rows;
  std::vector<double> centres = perturbed_rows_as_centres(data, k, seed);
  const auto groups = CentreGroups::cluster(centres, k, d, group_count);
  std::vector<std::int32_t> labels(n), next(n);
  std::vector<double> upper(n), lower(n * groups.count());
  bounds_by_gemm(data, CentreSet(centres, k, d, true), groups, labels, upper, lower);
  expect_valid_bounds(data, centres, groups, labels, upper, lower);
  std::mt19937_64 rng(seed);
  std::uint64_t failing_total = 0;
  for (int step = 0; step < 12; ++step) {
    const std::vector<double> moved = shrinking_move(centres, d, step, rng);
    const auto drift = centre_drift(centres, moved, k, d);
    const CentreSet set(moved, k, d, true);
    const GroupedCentres grouped(set, groups);
    const auto counts =
        yinyang_relabel(data.view(), set, grouped, drift, group_drift(drift, groups), labels, next, upper, lower);
    EXPECT_LE(counts.rescanned_rows, counts.failing);
    EXPECT_LE(counts.failing, n);
    EXPECT_LE(counts.scanned_groups, counts.rescanned_rows * groups.count());
    EXPECT_GE(counts.scanned_groups, counts.rescanned_rows);  // a rescanned row scans its own group at least
    failing_total += counts.failing;
    labels.swap(next);
    centres = moved;
    expect_valid_bounds(data, centres, groups, labels, upper, lower);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::int64_t nearest = clear_nearest(data.row(i), centres, d);
      if (nearest >= 0) {
        ASSERT_EQ(labels[i], nearest) << "step " << step << " row " << i;
      }
    }
  }
  EXPECT_LT(failing_total, 12 * n / 2);  // the point of the bounds: most rows skip most steps
}

TEST(Yinyang, BoundsStayValidAndLabelsStayNearestThroughManyMoves) {
  run_yinyang_steps(test_data::blobs(600, 4, 6, 11, 2), 40, 5, 1);
  run_yinyang_steps(test_data::blobs(300, 1, 3, 12, 2), 9, 3, 2);  // d = 1
  run_yinyang_steps(test_data::blobs(400, 30, 8, 13, 2), 90, 6, 3);
  run_yinyang_steps(test_data::blobs(300, 5, 4, 14, 2), 12, 1, 4);  // one group: Hamerly-like
  run_yinyang_steps(test_data::blobs(400, 6, 5, 21, 2, 1e7), 20, 4, 5);  // far from the origin
}

TEST(Yinyang, ExactTiesGoToTheLowestCentre) {
  // Centre 3 and centre 1 are the same point, in different groups; the row sits on them.
  const Matrix data{1, 2, {1, 1}};
  const std::vector<double> centres{5, 5, 1, 1, -4, 0, 1, 1};
  const CentreGroups groups(std::vector<std::int32_t>{0, 1, 0, 0});
  const CentreSet set(centres, 4, 2, true);
  const GroupedCentres grouped(set, groups);
  std::vector<std::int32_t> labels(1), next(1);
  std::vector<double> upper(1), lower(2);
  bounds_by_gemm(data, set, groups, labels, upper, lower);
  EXPECT_EQ(labels[0], 1);
  // A step that moves nothing: the tie is never proved by a bound, so the row is rescanned, and
  // goes to the lower index even from the higher one.
  const auto drift = centre_drift(centres, centres, 4, 2);
  labels[0] = 3;  // as if an earlier step had put it on the higher index
  upper[0] = 0;
  lower[0] = lower[1] = 0;
  const auto counts =
      yinyang_relabel(data.view(), set, grouped, drift, group_drift(drift, groups), labels, next, upper, lower);
  EXPECT_EQ(counts.rescanned_rows, 1u);
  EXPECT_EQ(next[0], 1);
}

TEST(Yinyang, ARowsBitsDoNotDependOnTheRowsBesideIt) {
  const Matrix data = test_data::blobs(900, 5, 6, 31, 2);
  const std::uint64_t k = 50, d = 5, n = data.rows;
  auto centres = perturbed_rows_as_centres(data, k, 8);
  const auto groups = CentreGroups::cluster(centres, k, d, 4);
  const std::uint64_t g_count = groups.count();
  std::vector<std::int32_t> labels(n), next(n), split_next(n);
  std::vector<double> upper(n), lower(n * g_count);
  bounds_by_gemm(data, CentreSet(centres, k, d, true), groups, labels, upper, lower);
  std::vector<double> moved = centres;
  for (std::uint64_t j = 0; j < moved.size(); ++j) moved[j] += 0.05 * std::sin(static_cast<double>(j));
  const auto drift = centre_drift(centres, moved, k, d);
  const CentreSet set(moved, k, d, true);
  const GroupedCentres grouped(set, groups);
  const auto drops = group_drift(drift, groups);
  auto split_upper = upper, split_lower = lower;
  yinyang_relabel(data.view(), set, grouped, drift, drops, labels, next, upper, lower);
  // The same rows in three uneven blocks (chunk boundaries fall elsewhere).
  for (const auto& [begin, end] : {std::pair<std::uint64_t, std::uint64_t>{0, 17}, {17, 600}, {600, n}}) {
    const std::uint64_t rows = end - begin;
    yinyang_relabel(data.view(begin, end), set, grouped, drift, drops, std::span(labels).subspan(begin, rows),
                    std::span(split_next).subspan(begin, rows), std::span(split_upper).subspan(begin, rows),
                    std::span(split_lower).subspan(begin * g_count, rows * g_count));
  }
  EXPECT_EQ(next, split_next);
  for (std::uint64_t i = 0; i < n; ++i) {
    ASSERT_EQ(std::bit_cast<std::uint64_t>(upper[i]), std::bit_cast<std::uint64_t>(split_upper[i]));
  }
  for (std::uint64_t i = 0; i < n * g_count; ++i) {
    ASSERT_EQ(std::bit_cast<std::uint64_t>(lower[i]), std::bit_cast<std::uint64_t>(split_lower[i]));
  }
}

}  // namespace
}  // namespace omniseg::kmeans
