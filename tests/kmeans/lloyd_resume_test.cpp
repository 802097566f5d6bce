// Resuming the Lloyd driver from a snapshot, at 1-4 ranks. A run keeps the snapshot of every
// iteration; the run resumed from each must end with the bytes of the uninterrupted run (labels,
// centroids, sizes, inertia, iteration count, convergence, counters), on the same split of the
// rows and, with the snapshot's per-row state gathered and cut again, on another (uneven, with
// empty ranks where the rank count allows). The first snapshot of a resumed run must equal the
// uninterrupted run's snapshot of that iteration, bounds included. Cases: blobs to strict
// convergence, a stop at the tolerance (final re-assignment), a stop at max_iterations, a lattice
// of duplicated points with exact and near ties, empty clusters re-seeded, and a larger k where
// automatic pruning switches to Hamerly; each under every pruning mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "algorithms/kmeans/lloyd.hpp"
#include "engine/block_distribution.hpp"
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

/// A 24 × 24 integer lattice, each point repeated 1 to 3 times, and a few of the copies nudged by
/// 1e-13: exact ties between centres placed symmetrically, and ties up to rounding.
Matrix lattice_with_ties() {
  Matrix m{0, 2, {}};
  for (int a = 0; a < 24; ++a) {
    for (int b = 0; b < 24; ++b) {
      const int copies = 1 + (a * 7 + b * 3) % 3;
      for (int c = 0; c < copies; ++c) {
        const double nudge = (a + b + c) % 5 == 0 ? 1e-13 : 0.0;
        m.values.insert(m.values.end(), {a + nudge, b - nudge});
        ++m.rows;
      }
    }
  }
  return m;
}


// ---- splits and runs ---------------------------------------------------------------------------


Cuts block_split(std::uint64_t n) {
  Cuts cuts{0};
  const engine::BlockDistribution distribution(n, world().size());
  for (int r = 0; r < world().size(); ++r) cuts.push_back(distribution.range(r).end);
  return cuts;
}

/// Another split: rank 0 takes a sixth, rank 1 (with 3 or more ranks) nothing, the others share
/// the rest unevenly. The same on every rank.
Cuts uneven_split(std::uint64_t n) {
  const auto p = static_cast<std::uint64_t>(world().size());
  Cuts cuts{0, p == 1 ? n : n / 6};
  if (p >= 3) cuts.push_back(cuts.back());
  while (cuts.size() < p) cuts.push_back(cuts.back() + (n - cuts.back()) / 3);
  if (p > 1) cuts.push_back(n);
  return cuts;
}

linalg::RowBlockView view_of(const Matrix& x, const Cuts& cuts) {
  const auto r = static_cast<std::size_t>(world().rank());
  return x.view(cuts[r], cuts[r + 1]);
}

struct Outcome {
  LloydResult result;
  std::vector<std::int32_t> all_labels;  ///< gathered in global row order
  std::uint64_t reported_iterations = 0;
  std::vector<LloydSnapshot> snapshots;  ///< copies, in iteration order
};

Outcome run_lloyd(const Matrix& x, const std::vector<double>& centres, const Cuts& cuts, LloydOptions options,
                  const LloydSnapshot* resume_from = nullptr) {
  Outcome run;
  options.on_iteration = [&run](const IterationReport&) { ++run.reported_iterations; };
  options.on_snapshot = [&run](const LloydSnapshot& snapshot) { run.snapshots.push_back(snapshot); };
  options.resume_from = resume_from;
  engine::PhaseTimers timers(world());
  run.result = lloyd(world(), view_of(x, cuts), centres, options, timers);
  run.all_labels = world().allgatherv(run.result.labels).data;
  return run;
}

/// The snapshot with its per-row members gathered in global row order (on every rank).
LloydSnapshot gather_rows(const LloydSnapshot& local) {
  LloydSnapshot global = local;
  global.labels = world().allgatherv(local.labels).data;
  global.upper_bounds = world().allgatherv(local.upper_bounds).data;
  global.lower_bounds = world().allgatherv(local.lower_bounds).data;
  return global;
}

/// This rank's rows of a gathered snapshot under `cuts` (under Yinyang a row has one lower bound
/// per centre group).
LloydSnapshot cut_rows(const LloydSnapshot& global, const Cuts& cuts) {
  const auto r = static_cast<std::size_t>(world().rank());
  const auto begin = static_cast<std::ptrdiff_t>(cuts[r]), end = static_cast<std::ptrdiff_t>(cuts[r + 1]);
  LloydSnapshot local = global;
  local.labels.assign(global.labels.begin() + begin, global.labels.begin() + end);
  if (global.bounds_valid) {
    const auto per_row = static_cast<std::ptrdiff_t>(global.lower_bounds.size() / global.labels.size());
    local.upper_bounds.assign(global.upper_bounds.begin() + begin, global.upper_bounds.begin() + end);
    local.lower_bounds.assign(global.lower_bounds.begin() + begin * per_row,
                              global.lower_bounds.begin() + end * per_row);
  }
  return local;
}

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

void expect_same_clustering(const Outcome& a, const Outcome& b, const std::string& what) {
  EXPECT_EQ(a.all_labels, b.all_labels) << what;
  EXPECT_TRUE(same_bytes(a.result.centroids, b.result.centroids)) << what;
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.result.inertia), std::bit_cast<std::uint64_t>(b.result.inertia)) << what;
  EXPECT_EQ(a.result.iterations, b.result.iterations) << what;
  EXPECT_EQ(a.result.sizes, b.result.sizes) << what;
  EXPECT_EQ(a.result.converged, b.result.converged) << what;
}

/// The same clustering and the same counters.
void expect_identical(const Outcome& a, const Outcome& b, const std::string& what) {
  expect_same_clustering(a, b, what);
  EXPECT_EQ(a.result.hamerly_iterations, b.result.hamerly_iterations) << what;
  EXPECT_EQ(a.result.yinyang_iterations, b.result.yinyang_iterations) << what;
  EXPECT_EQ(a.result.reseeded_clusters, b.result.reseeded_clusters) << what;
}

void expect_same_snapshot(const LloydSnapshot& a, const LloydSnapshot& b, const std::string& what) {
  EXPECT_EQ(a.iterations, b.iterations) << what;
  EXPECT_EQ(a.hamerly_iterations, b.hamerly_iterations) << what;
  EXPECT_EQ(a.yinyang_iterations, b.yinyang_iterations) << what;
  EXPECT_EQ(a.reseeded_clusters, b.reseeded_clusters) << what;
  EXPECT_EQ(a.centre_groups, b.centre_groups) << what;
  EXPECT_EQ(a.changed_labels, b.changed_labels) << what;
  EXPECT_TRUE(same_bytes(a.centres, b.centres)) << what;
  EXPECT_TRUE(same_bytes(a.previous_centres, b.previous_centres)) << what;
  EXPECT_EQ(a.bounds_valid, b.bounds_valid) << what;
  EXPECT_EQ(a.labels, b.labels) << what;
  EXPECT_TRUE(same_bytes(a.upper_bounds, b.upper_bounds)) << what;
  EXPECT_TRUE(same_bytes(a.lower_bounds, b.lower_bounds)) << what;
}

/// Runs `options` uninterrupted on the block split, then resumes from the snapshot of every
/// iteration (every `step`-th and the last when step > 1) on the block split and, re-sharded, on
/// the uneven split; every result must equal the uninterrupted one byte for byte. Returns the
/// uninterrupted run.
Outcome check_resume(const std::string& name, const Matrix& x, const std::vector<double>& centres,
                 const LloydOptions& options, std::uint64_t step = 1) {
  const Cuts block = block_split(x.rows), uneven = uneven_split(x.rows);
  const Outcome full = run_lloyd(x, centres, block, options);
  EXPECT_EQ(full.snapshots.size(), full.result.iterations) << name;
  // The snapshots are those of this rank's rows; results do not depend on the split.
  const Outcome full_uneven = run_lloyd(x, centres, uneven, options);
  expect_identical(full_uneven, full, name + ": uneven split");
  for (std::uint64_t t = 1; t <= full.snapshots.size(); ++t) {
    if (t % step != 0 && t != full.snapshots.size()) continue;
    const std::string at = name + ", resumed after iteration " + std::to_string(t);
    const LloydSnapshot& snapshot = full.snapshots[t - 1];
    EXPECT_EQ(snapshot.iterations, t) << at;
    const Outcome resumed = run_lloyd(x, centres, block, options, &snapshot);
    expect_identical(resumed, full, at);
    EXPECT_EQ(resumed.reported_iterations, full.result.iterations - t) << at;  // none after the last
    const bool comparable = t < full.snapshots.size();  // a resumed run's first snapshot is of iteration t + 1
    if (comparable && !resumed.snapshots.empty()) {
      expect_same_snapshot(resumed.snapshots.front(), full.snapshots[t], at);
    }

    const LloydSnapshot global = gather_rows(snapshot);
    const LloydSnapshot reshaped = cut_rows(global, uneven);
    const Outcome moved = run_lloyd(x, centres, uneven, options, &reshaped);
    expect_identical(moved, full, at + " on the uneven split");
    if (comparable && !moved.snapshots.empty()) {
      expect_same_snapshot(gather_rows(moved.snapshots.front()), gather_rows(full.snapshots[t]),
                           at + " on the uneven split");
    }
  }
  return full;
}

constexpr Pruning all_prunings[] = {Pruning::automatic, Pruning::hamerly, Pruning::yinyang, Pruning::none};

std::string named(const std::string& name, Pruning pruning) {
  return name + " (" + std::string(to_string(pruning)) + ")";
}

// ---- every iteration resumes to the same bytes ---------------------------------------------------

TEST(LloydResume, BlobsToStrictConvergence) {
  const Matrix x = blobs(1500, 4, 6, 1);
  for (const Pruning pruning : all_prunings) {
    const Outcome full =
        check_resume(named("blobs", pruning), x, rows_as_centres(x, 6, 3, 97), settings(300, 0, pruning));
    EXPECT_TRUE(full.result.converged);
    EXPECT_EQ(full.snapshots.back().changed_labels, 0u);  // stopped by unchanged labels
  }
}

TEST(LloydResume, StopAtTheTolerance) {
  const Matrix x = blobs(1200, 3, 5, 2);
  for (const Pruning pruning : all_prunings) {
    const Outcome full =
        check_resume(named("tolerance", pruning), x, rows_as_centres(x, 8, 1, 131), settings(300, 0.05, pruning));
    EXPECT_TRUE(full.result.converged);
    EXPECT_GT(full.snapshots.back().changed_labels, 0u);  // stopped by the shift: a final re-assignment
  }
}

TEST(LloydResume, StopAtMaxIterations) {
  const Matrix x = blobs(1000, 5, 7, 3);
  for (const Pruning pruning : all_prunings) {
    const Outcome full =
        check_resume(named("max_iter", pruning), x, rows_as_centres(x, 7, 0, 11), settings(4, 0, pruning));
    EXPECT_FALSE(full.result.converged);
    EXPECT_EQ(full.result.iterations, 4u);
  }
}

TEST(LloydResume, DuplicatesAndTies) {
  const Matrix x = lattice_with_ties();
  // Centres on lattice points crowded in a corner, placed symmetrically: many points lie exactly
  // between two of them, and the centres take many iterations to spread.
  const std::vector<double> centres{0, 0, 0, 2, 2, 0, 2, 2, 1, 1, 0, 4, 4, 0};
  for (const Pruning pruning : all_prunings) {
    check_resume(named("ties", pruning), x, centres, settings(300, 0, pruning));
  }
}

TEST(LloydResume, EmptyClustersReseeded) {
  const Matrix x = blobs(900, 3, 4, 6);
  auto centres = rows_as_centres(x, 5, 7, 173);
  centres.insert(centres.end(), {500, 500, 500});                       // far from everything: empty at once
  centres.insert(centres.end(), centres.begin(), centres.begin() + 3);  // a duplicate of centre 0: empty too
  for (const Pruning pruning : all_prunings) {
    const Outcome full = check_resume(named("empty", pruning), x, centres, settings(300, 0, pruning));
    EXPECT_EQ(full.snapshots.front().reseeded_clusters, 2u);
  }
}

TEST(LloydResume, HamerlyIterationsUnderAutomaticPruning) {
  const Matrix x = blobs(4000, 5, 12, 32);
  const auto centres = rows_as_centres(x, 24, 4, 37);
  for (const Pruning pruning : all_prunings) {
    const Outcome full = check_resume(named("k24", pruning), x, centres, settings(300, 0, pruning), 3);
    if (pruning == Pruning::automatic) {
      EXPECT_GT(full.result.hamerly_iterations, 0u);
      EXPECT_LT(full.result.hamerly_iterations, full.result.iterations - 1);  // both paths taken
    }
  }
}

TEST(LloydResume, YinyangGroupsUnderAutomaticPruning) {
  // k = 72: automatic pruning takes Yinyang, four groups of centres (d = 4 caps them); the snapshot
  // carries the groups and four lower bounds per row, re-sharded with the rows.
  const Matrix x = blobs(3000, 4, 9, 33);
  const auto centres = rows_as_centres(x, 72, 5, 41);
  for (const Pruning pruning : {Pruning::automatic, Pruning::yinyang}) {
    const Outcome full = check_resume(named("k72", pruning), x, centres, settings(300, 0, pruning), 3);
    EXPECT_EQ(full.result.yinyang_iterations, full.result.iterations - 1);
    EXPECT_EQ(full.result.hamerly_iterations, 0u);
    const LloydSnapshot& last = full.snapshots.back();
    ASSERT_EQ(last.centre_groups.size(), 72u);
    const auto& ids = last.centre_groups;
    const auto groups = static_cast<std::size_t>(*std::max_element(ids.begin(), ids.end())) + 1;
    EXPECT_EQ(groups, 4u);
    EXPECT_EQ(last.lower_bounds.size(), last.labels.size() * groups);
  }
}

// ---- what a snapshot means -----------------------------------------------------------------------

TEST(LloydResume, ALargerMaxIterationsContinuesARunThatStoppedAtItsLimit) {
  const Matrix x = blobs(1000, 5, 7, 3);
  const auto centres = rows_as_centres(x, 7, 0, 11);
  const Cuts block = block_split(x.rows);
  const Outcome stopped = run_lloyd(x, centres, block, settings(4, 0, Pruning::automatic));
  const Outcome full = run_lloyd(x, centres, block, settings(300, 0, Pruning::automatic));
  ASSERT_GT(full.result.iterations, 4u);
  const Outcome continued =
      run_lloyd(x, centres, block, settings(300, 0, Pruning::automatic), &stopped.snapshots.back());
  expect_identical(continued, full, "continued to 300 iterations");
  EXPECT_EQ(continued.reported_iterations, full.result.iterations - 4);
}

TEST(LloydResume, PreemptionThrownFromTheCallbackLeavesCleanly) {
  struct Preempted {};
  const Matrix x = blobs(1500, 4, 6, 1);
  const auto centres = rows_as_centres(x, 6, 3, 97);
  const Cuts block = block_split(x.rows);
  const Outcome full = run_lloyd(x, centres, block, settings(300, 0, Pruning::automatic));
  ASSERT_GT(full.result.iterations, 3u);

  // Every rank checkpoints every 2 iterations and is preempted after the third.
  LloydSnapshot checkpoint;
  LloydOptions options = settings(300, 0, Pruning::automatic);
  options.on_snapshot = [&checkpoint](const LloydSnapshot& snapshot) {
    if (snapshot.iterations % 2 == 0) checkpoint = snapshot;
    if (snapshot.iterations == 3) throw Preempted{};
  };
  engine::PhaseTimers timers(world());
  EXPECT_THROW(static_cast<void>(lloyd(world(), view_of(x, block), centres, options, timers)), Preempted);
  ASSERT_EQ(checkpoint.iterations, 2u);
  // Restarted on another split (the communicator still works: nothing was left pending).
  const Cuts uneven = uneven_split(x.rows);
  const LloydSnapshot restored = cut_rows(gather_rows(checkpoint), uneven);
  expect_identical(run_lloyd(x, centres, uneven, settings(300, 0, Pruning::automatic), &restored), full,
                   "resumed after preemption");
}

TEST(LloydResume, AnotherPruningModeResumesToCorrectLabels) {
  // Without near ties every mode gives the same bytes, so a snapshot with bounds resumed without
  // them, and one without bounds resumed with them, end where the original run ends (the counter
  // of Hamerly iterations mixes the two runs' modes).
  const Matrix x = blobs(1500, 4, 6, 1);
  const auto centres = rows_as_centres(x, 6, 3, 97);
  const Cuts block = block_split(x.rows);
  const Outcome automatic = run_lloyd(x, centres, block, settings(300, 0, Pruning::automatic));
  const Outcome plain = run_lloyd(x, centres, block, settings(300, 0, Pruning::none));
  ASSERT_GT(automatic.result.iterations, 2u);
  EXPECT_TRUE(automatic.snapshots[1].bounds_valid);
  EXPECT_FALSE(plain.snapshots[1].bounds_valid);
  EXPECT_TRUE(plain.snapshots[1].upper_bounds.empty());
  expect_same_clustering(run_lloyd(x, centres, block, settings(300, 0, Pruning::none), &automatic.snapshots[1]),
                         plain, "automatic's snapshot resumed without pruning");
  expect_same_clustering(run_lloyd(x, centres, block, settings(300, 0, Pruning::hamerly), &plain.snapshots[1]),
                         automatic, "plain Lloyd's snapshot resumed with Hamerly's bounds");
  // Group bounds and one lower bound per row do not mix: each mode starts its own bounds afresh.
  const Outcome yinyang = run_lloyd(x, centres, block, settings(300, 0, Pruning::yinyang));
  EXPECT_FALSE(yinyang.snapshots[1].centre_groups.empty());
  expect_same_clustering(run_lloyd(x, centres, block, settings(300, 0, Pruning::hamerly), &yinyang.snapshots[1]),
                         automatic, "Yinyang's snapshot resumed with Hamerly's bounds");
  expect_same_clustering(run_lloyd(x, centres, block, settings(300, 0, Pruning::yinyang), &automatic.snapshots[1]),
                         yinyang, "Hamerly's snapshot resumed with Yinyang's bounds");
}

// ---- snapshots that do not fit ---------------------------------------------------------------------

/// Resumes from `snapshot` expecting std::invalid_argument on every rank, with the same message.
void expect_rejected(const Matrix& x, const std::vector<double>& centres, const LloydSnapshot& snapshot,
                     const LloydOptions& options, const std::string& what) {
  std::string message;
  try {
    static_cast<void>(run_lloyd(x, centres, block_split(x.rows), options, &snapshot));
  } catch (const std::invalid_argument& error) {
    message = error.what();
  }
  EXPECT_FALSE(message.empty()) << what << ": accepted";
  const auto messages = world().allgatherv(std::vector<char>(message.begin(), message.end()));
  const std::string first(messages.data.begin(),
                          messages.data.begin() + static_cast<std::ptrdiff_t>(messages.counts.front()));
  EXPECT_EQ(message, first) << what << ": not the same message on every rank";
}

TEST(LloydResume, RejectsSnapshotsThatDoNotFit) {
  const Matrix x = blobs(600, 3, 4, 9);
  const auto centres = rows_as_centres(x, 4, 0, 7);
  const auto options = settings(300, 0, Pruning::automatic);
  const Outcome full = run_lloyd(x, centres, block_split(x.rows), options);
  ASSERT_GE(full.snapshots.size(), 2u);
  const LloydSnapshot& good = full.snapshots[1];
  const bool last_rank = world().rank() == world().size() - 1;

  // Wrong k: the run's centres have one more row than the snapshot's.
  auto five = centres;
  five.insert(five.end(), {0, 0, 0});
  expect_rejected(x, five, good, options, "k + 1 initial centres");
  // Wrong d: the same rows with a fourth column.
  Matrix wide{x.rows, 4, {}};
  for (std::uint64_t i = 0; i < x.rows; ++i) {
    wide.values.insert(wide.values.end(), x.row(i), x.row(i) + 3);
    wide.values.push_back(1);
  }
  expect_rejected(wide, rows_as_centres(wide, 4, 0, 7), good, options, "d = 4");

  auto broken = good;
  broken.previous_centres.pop_back();
  expect_rejected(x, centres, broken, options, "previous centres short");
  broken = good;
  broken.iterations = 0;
  expect_rejected(x, centres, broken, options, "iteration 0");
  expect_rejected(x, centres, good, settings(1, 0, Pruning::automatic), "past max_iterations");

  // Per-row members wrong on one rank only: every rank must throw (none left waiting).
  broken = good;
  if (last_rank) broken.labels.push_back(0);
  expect_rejected(x, centres, broken, options, "one label too many on the last rank");
  broken = good;
  if (world().rank() == 0) broken.upper_bounds.pop_back();
  expect_rejected(x, centres, broken, options, "one upper bound short on rank 0");
  broken = good;
  if (last_rank) broken.lower_bounds.clear();
  expect_rejected(x, centres, broken, options, "lower bounds missing on the last rank");
  broken = good;
  broken.bounds_valid = false;
  expect_rejected(x, centres, broken, options, "bounds present but marked invalid");
  broken = good;
  if (last_rank) broken.labels.back() = 4;
  expect_rejected(x, centres, broken, options, "a label out of range");
  broken = good;
  if (world().rank() == 0) broken.labels.front() = -1;
  expect_rejected(x, centres, broken, options, "a negative label");

  // Yinyang's snapshot: centre groups that are not a partition, lower bounds not one per group.
  const auto yinyang = settings(300, 0, Pruning::yinyang);
  const Matrix wider = blobs(600, 3, 4, 10);
  const auto many = rows_as_centres(wider, 40, 0, 7);  // three groups of centres
  const Outcome grouped = run_lloyd(wider, many, block_split(wider.rows), yinyang);
  ASSERT_GE(grouped.snapshots.size(), 2u);
  const LloydSnapshot& good_groups = grouped.snapshots[1];
  ASSERT_GT(*std::max_element(good_groups.centre_groups.begin(), good_groups.centre_groups.end()), 0);
  auto groups_broken = good_groups;
  groups_broken.centre_groups.pop_back();
  expect_rejected(wider, many, groups_broken, yinyang, "one centre without a group");
  groups_broken = good_groups;
  std::replace(groups_broken.centre_groups.begin(), groups_broken.centre_groups.end(), 0, 7);
  expect_rejected(wider, many, groups_broken, yinyang, "a group id without a centre");
  groups_broken = good_groups;
  groups_broken.centre_groups.front() = -1;
  expect_rejected(wider, many, groups_broken, yinyang, "a negative group id");
  groups_broken = good_groups;
  if (last_rank) groups_broken.lower_bounds.pop_back();
  expect_rejected(wider, many, groups_broken, yinyang, "one group bound short on the last rank");
  expect_identical(run_lloyd(wider, many, block_split(wider.rows), yinyang, &good_groups), grouped,
                   "Yinyang after the rejections");

  // A snapshot cut for another split does not fit this one (where the splits differ).
  if (world().size() > 1) {
    const LloydSnapshot other = cut_rows(gather_rows(good), uneven_split(x.rows));
    expect_rejected(x, centres, other, options, "rows of another split");
  }
  // And the good one still resumes.
  expect_identical(run_lloyd(x, centres, block_split(x.rows), options, &good), full, "after the rejections");
}

}  // namespace
}  // namespace omniseg::kmeans
