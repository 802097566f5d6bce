// The Lloyd driver at 1-4 ranks against a naive reference written here (the whole matrix on every
// rank, distances and sums in long double, scikit-learn's iteration count, convergence and
// empty-cluster rules): labels, sizes, iteration count, centroids and inertia. Every case also runs
// under several splits of the rows — the block distribution, all rows on the first rank (which is
// a single-rank run: the other ranks add nothing to the exact sums), all on the last, uneven splits
// with empty ranks — and every split must give the same bytes, as must every pruning mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "algorithms/kmeans/lloyd.hpp"
#include "engine/block_distribution.hpp"
#include "engine/errors.hpp"
#include "tests/kmeans/kmeans_test_data.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::kmeans {
namespace {

using omniseg::testing::world;

using test_data::blobs;
using test_data::Matrix;
using test_data::rows_as_centres;
using test_data::Cuts;
using test_data::settings;

// ---- the naive reference --------------------------------------------------------------------

struct Reference {
  std::vector<double> centroids;
  std::vector<std::int32_t> labels;
  std::vector<std::uint64_t> sizes;
  long double inertia = 0;
  std::uint64_t iterations = 0;
  bool converged = false;
  std::uint64_t reseeded = 0;
};

long double distance2(const double* x, const double* c, std::uint64_t d) {
  long double sum = 0;
  for (std::uint64_t col = 0; col < d; ++col) {
    const long double diff = static_cast<long double>(x[col]) - c[col];
    sum += diff * diff;
  }
  return sum;
}

std::vector<std::int32_t> nearest(const Matrix& x, const std::vector<double>& centres) {
  const std::uint64_t d = x.columns, k = centres.size() / d;
  std::vector<std::int32_t> labels(x.rows);
  for (std::uint64_t i = 0; i < x.rows; ++i) {
    long double best = std::numeric_limits<long double>::infinity();
    for (std::uint64_t j = 0; j < k; ++j) {
      const long double distance = distance2(x.row(i), centres.data() + j * d, d);
      if (distance < best) {
        best = distance;
        labels[i] = static_cast<std::int32_t>(j);
      }
    }
  }
  return labels;
}

/// scikit-learn 1.2's _kmeans_single_lloyd with the driver's documented differences: the shift
/// test is on the largest centre shift, and a cluster left empty keeps its centre.
Reference reference_lloyd(const Matrix& x, std::vector<double> centres, std::uint64_t max_iterations,
                          double tolerance) {
  const std::uint64_t n = x.rows, d = x.columns, k = centres.size() / d;
  Reference result;
  std::vector<std::int32_t> previous(n, -1);
  bool strict = false;
  for (std::uint64_t iteration = 0; iteration < max_iterations; ++iteration) {
    const auto labels = nearest(x, centres);
    std::vector<long double> sums(k * d, 0);
    std::vector<std::uint64_t> counts(k, 0);
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto j = static_cast<std::uint64_t>(labels[i]);
      ++counts[j];
      for (std::uint64_t col = 0; col < d; ++col) sums[j * d + col] += x.row(i)[col];
    }
    std::vector<std::uint64_t> empty;
    for (std::uint64_t j = 0; j < k; ++j) {
      if (counts[j] == 0) empty.push_back(j);
    }
    if (!empty.empty()) {
      std::vector<std::uint64_t> order(n);
      std::vector<long double> far(n);
      for (std::uint64_t i = 0; i < n; ++i) {
        order[i] = i;
        far[i] = distance2(x.row(i), centres.data() + static_cast<std::uint64_t>(labels[i]) * d, d);
      }
      std::stable_sort(order.begin(), order.end(), [&](std::uint64_t a, std::uint64_t b) { return far[a] > far[b]; });
      if (far[order[0]] > 0) {
        for (std::size_t e = 0; e < empty.size(); ++e) {
          const std::uint64_t row = order[e], from = static_cast<std::uint64_t>(labels[row]);
          for (std::uint64_t col = 0; col < d; ++col) {
            sums[from * d + col] -= x.row(row)[col];
            sums[empty[e] * d + col] = x.row(row)[col];
          }
          --counts[from];
          counts[empty[e]] = 1;
          ++result.reseeded;
        }
      }
    }
    std::vector<double> next = centres;
    long double largest_shift = 0;
    for (std::uint64_t j = 0; j < k; ++j) {
      if (counts[j] == 0) continue;
      for (std::uint64_t col = 0; col < d; ++col) {
        next[j * d + col] = static_cast<double>(sums[j * d + col] / static_cast<long double>(counts[j]));
      }
      largest_shift = std::max(largest_shift, std::sqrt(distance2(next.data() + j * d, centres.data() + j * d, d)));
    }
    centres = next;
    result.iterations = iteration + 1;
    if (labels == previous) {
      strict = true;
      result.converged = true;
      break;
    }
    if (largest_shift <= tolerance) {
      result.converged = true;
      break;
    }
    previous = labels;
  }
  result.labels = strict ? previous : nearest(x, centres);
  result.sizes.assign(k, 0);
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto j = static_cast<std::uint64_t>(result.labels[i]);
    ++result.sizes[j];
    result.inertia += distance2(x.row(i), centres.data() + j * d, d);
  }
  result.centroids = centres;
  return result;
}


// ---- running the driver on a split ------------------------------------------------------------


std::vector<Cuts> splits(std::uint64_t n) {
  const int p = world().size();
  std::vector<Cuts> result;
  Cuts block{0};
  const engine::BlockDistribution distribution(n, p);
  for (int r = 0; r < p; ++r) block.push_back(distribution.range(r).end);
  result.push_back(block);
  Cuts first(static_cast<std::size_t>(p) + 1, n), last(static_cast<std::size_t>(p) + 1, 0);
  first[0] = 0;
  last[static_cast<std::size_t>(p)] = n;
  result.push_back(first);
  result.push_back(last);
  std::mt19937_64 rng(n);  // the same on every rank
  for (int s = 0; s < 2; ++s) {
    Cuts cuts{0, n};
    for (int r = 1; r < p; ++r) cuts.push_back(rng() % (n + 1));
    std::sort(cuts.begin(), cuts.end());
    result.push_back(cuts);
  }
  return result;
}

struct Outcome {
  LloydResult result;
  std::vector<std::int32_t> all_labels;  ///< gathered in global row order
  std::vector<IterationReport> reports;
};

Outcome run_split(const Matrix& x, const std::vector<double>& centres, const Cuts& cuts, LloydOptions options) {
  const auto& comm = world();
  const auto r = static_cast<std::size_t>(comm.rank());
  const linalg::RowBlockView view = x.view(cuts[r], cuts[r + 1]);
  Outcome run;
  options.on_iteration = [&run](const IterationReport& report) { run.reports.push_back(report); };
  engine::PhaseTimers timers(comm);
  run.result = lloyd(comm, view, centres, options, timers);
  EXPECT_EQ(run.result.labels.size(), view.local_rows);
  run.all_labels = comm.allgatherv(run.result.labels).data;
  return run;
}

bool same_bytes(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

void expect_identical(const Outcome& a, const Outcome& b, const std::string& what) {
  EXPECT_EQ(a.all_labels, b.all_labels) << what;
  EXPECT_TRUE(same_bytes(a.result.centroids, b.result.centroids)) << what;
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.result.inertia), std::bit_cast<std::uint64_t>(b.result.inertia)) << what;
  EXPECT_EQ(a.result.iterations, b.result.iterations) << what;
  EXPECT_EQ(a.result.sizes, b.result.sizes) << what;
  EXPECT_EQ(a.result.converged, b.result.converged) << what;
}

/// Runs every split, checks each against the reference and all of them against the first, byte
/// for byte; returns the first.
Outcome check_case(const std::string& name, const Matrix& x, const std::vector<double>& centres,
               const LloydOptions& options) {
  const Reference reference = reference_lloyd(x, centres, options.max_iterations, options.tolerance);
  double largest = 0;
  for (const double value : x.values) largest = std::max(largest, std::abs(value));
  std::vector<Outcome> runs;
  for (const Cuts& cuts : splits(x.rows)) {
    runs.push_back(run_split(x, centres, cuts, options));
    const Outcome& run = runs.back();
    expect_identical(run, runs.front(), name + ": split differs from the block distribution");
  }
  const Outcome& run = runs.front();
  const auto& result = run.result;
  EXPECT_EQ(run.all_labels, reference.labels) << name;
  EXPECT_EQ(result.sizes, reference.sizes) << name;
  EXPECT_EQ(result.iterations, reference.iterations) << name;
  EXPECT_EQ(result.converged, reference.converged) << name;
  EXPECT_EQ(result.reseeded_clusters, reference.reseeded) << name;
  EXPECT_EQ(result.k, centres.size() / x.columns);
  if (result.centroids.size() != reference.centroids.size()) {
    ADD_FAILURE() << name << ": " << result.centroids.size() << " centroid values, expected "
                  << reference.centroids.size();
    return run;
  }
  for (std::size_t i = 0; i < result.centroids.size(); ++i) {
    EXPECT_NEAR(result.centroids[i], reference.centroids[i], 1e-13 * std::max(largest, 1.0)) << name << " value " << i;
  }
  EXPECT_NEAR(result.inertia, static_cast<double>(reference.inertia),
              1e-12 * static_cast<double>(reference.inertia) + 1e-300)
      << name;
  EXPECT_EQ(run.reports.size(), result.iterations) << name;
  if (!run.reports.empty()) {
    EXPECT_EQ(run.reports.front().changed_labels, x.rows) << name;
  }
  // Every rank holds the same centroids.
  const auto all = world().allgather(result.centroids);
  for (int r = 1; r < world().size(); ++r) {
    EXPECT_TRUE(std::equal(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(result.centroids.size()),
                           all.begin() + static_cast<std::ptrdiff_t>(r * result.centroids.size())))
        << name;
  }
  return run;
}

TEST(Lloyd, BlobsToStrictConvergence) {
  const Matrix x = blobs(1500, 4, 6, 1);
  check_case("blobs", x, rows_as_centres(x, 6, 3, 97), settings(300, 0));
}

TEST(Lloyd, StopsAtTheToleranceAndReassignsOnce) {
  const Matrix x = blobs(1200, 3, 5, 2);
  const Outcome run = check_case("tolerance", x, rows_as_centres(x, 8, 1, 131), settings(300, 0.05));
  EXPECT_TRUE(run.result.converged);
  EXPECT_LE(run.reports.back().largest_shift, 0.05);
  EXPECT_GT(run.reports.back().changed_labels, 0u);  // stopped by the shift, not by unchanged labels
}

TEST(Lloyd, StopsAtMaxIterationsUnconverged) {
  const Matrix x = blobs(1000, 5, 7, 3);
  const Outcome run = check_case("max_iter", x, rows_as_centres(x, 7, 0, 11), settings(2, 0));
  EXPECT_FALSE(run.result.converged);
  EXPECT_EQ(run.result.iterations, 2u);
}

TEST(Lloyd, OneCluster) {
  const Matrix x = blobs(500, 3, 2, 4);
  const Outcome run = check_case("k1", x, rows_as_centres(x, 1, 5, 1), settings(50, 0));
  EXPECT_EQ(run.result.sizes, std::vector<std::uint64_t>{500});
}

TEST(Lloyd, OneColumn) {
  const Matrix x = blobs(800, 1, 4, 5);
  check_case("d1", x, rows_as_centres(x, 4, 2, 199), settings(300, 0));
}

TEST(Lloyd, EmptyClustersAreReseededFromTheFarthestPoints) {
  const Matrix x = blobs(900, 3, 4, 6);
  auto centres = rows_as_centres(x, 5, 7, 173);
  centres.insert(centres.end(), {500, 500, 500});                   // far from everything: empty at once
  centres.insert(centres.end(), centres.begin(), centres.begin() + 3);  // a duplicate of centre 0: empty too
  const Outcome run = check_case("empty", x, centres, settings(300, 0));
  EXPECT_EQ(run.reports.front().reseeded, 2u);
}

TEST(Lloyd, AllPointsIdentical) {
  // Dyadic values: the exact sums reproduce the point, so centroids and inertia are exact.
  Matrix same{40, 2, std::vector<double>(80)};
  for (std::uint64_t i = 0; i < 40; ++i) {
    same.values[2 * i] = 2.25;
    same.values[2 * i + 1] = -0.5;
  }
  const std::vector<double> centres{2.25, -0.5, 2.25, -0.5, 2.25, -0.5};
  for (const Cuts& cuts : splits(same.rows)) {
    const Outcome run = run_split(same, centres, cuts, settings(300, 0));
    EXPECT_EQ(run.result.inertia, 0);
    EXPECT_EQ(run.result.centroids, centres);
    std::uint64_t total = 0;
    for (const auto size : run.result.sizes) total += size;
    EXPECT_EQ(total, 40u);
    EXPECT_EQ(run.result.reseeded_clusters, 0u);  // every point sits on its centre: nothing to move
    // No centre moves in the first iteration (the empty ones keep theirs): converged after 1.
    EXPECT_EQ(run.result.iterations, 1u);
  }
}

TEST(Lloyd, FewerRowsThanRanks) {
  const Matrix x = blobs(3, 2, 2, 7);
  check_case("n3", x, rows_as_centres(x, 2, 0, 1), settings(300, 0));
}

TEST(Lloyd, PruningModesGiveTheSameBytes) {
  // k = 70 is past yinyang_min_k: automatic pruning then takes Yinyang (five groups of centres).
  for (const auto& [n, k] : {std::pair<std::uint64_t, std::uint64_t>{1500, 6}, {4000, 24}, {5000, 70}}) {
    const Matrix x = blobs(n, 5, 12, 8 + k);
    const auto centres = rows_as_centres(x, k, 4, 37);
    const Outcome plain = check_case("none", x, centres, settings(300, 0, Pruning::none));
    EXPECT_EQ(plain.result.hamerly_iterations, 0u);
    EXPECT_EQ(plain.result.yinyang_iterations, 0u);
    const Outcome hamerly =
        check_case("hamerly", x, centres, settings(300, 0, Pruning::hamerly));
    EXPECT_EQ(hamerly.result.hamerly_iterations, hamerly.result.iterations - 1);  // all but the first
    const Outcome yinyang = check_case("yinyang", x, centres, settings(300, 0, Pruning::yinyang));
    EXPECT_EQ(yinyang.result.yinyang_iterations, yinyang.result.iterations - 1);
    const Outcome automatic = check_case("auto", x, centres, settings(300, 0));
    if (k >= yinyang_min_k) {
      EXPECT_EQ(automatic.result.yinyang_iterations, automatic.result.iterations - 1);
      EXPECT_EQ(automatic.result.hamerly_iterations, 0u);
    } else {
      EXPECT_GT(automatic.result.hamerly_iterations, 0u);  // late iterations move few points
      EXPECT_EQ(automatic.result.yinyang_iterations, 0u);
    }
    expect_identical(hamerly, plain, "hamerly against plain Lloyd");
    expect_identical(yinyang, plain, "yinyang against plain Lloyd");
    expect_identical(automatic, plain, "auto against plain Lloyd");
  }
}

TEST(Lloyd, RejectsBadArguments) {
  const Matrix x = blobs(10, 2, 2, 9);
  const Cuts cuts = splits(x.rows).front();
  EXPECT_THROW(run_split(x, rows_as_centres(x, 11, 0, 1), cuts, {}), std::invalid_argument);  // k > n
  EXPECT_THROW(run_split(x, {}, cuts, {}), std::invalid_argument);
  EXPECT_THROW(run_split(x, {1, 2, 3}, cuts, {}), std::invalid_argument);  // not k × d
  EXPECT_THROW(run_split(x, rows_as_centres(x, 2, 0, 1), cuts, settings(0, 0)), std::invalid_argument);
  EXPECT_THROW(run_split(x, rows_as_centres(x, 2, 0, 1), cuts, settings(300, -1)), std::invalid_argument);
  Matrix huge = x;
  huge.values[7] = 1e200;
  EXPECT_THROW(run_split(huge, rows_as_centres(x, 2, 0, 1), cuts, {}), InputError);
}

}  // namespace
}  // namespace omniseg::kmeans
