// algorithms/kmeans/lloyd.hpp — K-means (Lloyd's algorithm) over a row-sharded matrix, with the
// same labels and centroids, bit for bit, on any number of ranks.
//
// Owns: the distributed driver. Each iteration assigns every local point to its nearest centre
// (algorithms/kmeans/assign.hpp: GEMM tiles aligned to global rows, or Hamerly's bounds where
// they pay; algorithms/kmeans/yinyang.hpp: group bounds for many centres), then one exact
// allreduce of per-cluster fixed-point sums and counts gives new centres identical on every rank;
// after the first iteration only the points that changed cluster are moved between the sums.
// Empty clusters are re-seeded as scikit-learn does. Iteration count, convergence and the final
// re-assignment follow scikit-learn 1.2's `_kmeans_single_lloyd`, so `iterations` is its `n_iter_`.
// A run can hand out a snapshot of its state after every iteration and continue from one, on
// another number of ranks too, to the same bits as an uninterrupted run (LloydSnapshot). Does not
// own: initial centres (algorithms/kmeans/init.hpp), restarts and the k sweep
// (jobs/kmeans_command.cpp), files.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "algorithms/linalg/row_block.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"

namespace omniseg::kmeans {

/// How points are assigned after the first iteration.
enum class Pruning : std::uint8_t {
  automatic,  ///< Yinyang from yinyang_min_k centres on; below, per iteration: Hamerly when few
              ///< points fail their bounds, else GEMM for all
  hamerly,    ///< Hamerly's bounds in every iteration after the first
  yinyang,    ///< Yinyang's group bounds in every iteration after the first
  none,       ///< GEMM distances to every centre in every iteration (plain Lloyd)
};
[[nodiscard]] std::string_view to_string(Pruning pruning);

/// The automatic rule's switch to Yinyang: with this many centres or more, one lower bound per
/// point (Hamerly) drops with the largest move of any centre and fails for most points, while
/// Yinyang's per-group bounds drop only by their own group's moves. Measured on 1,000,000 × 32
/// blobs (docs/kmeans.md).
inline constexpr std::uint64_t yinyang_min_k = 64;

/// Whether a run with `pruning` and k centres assigns by Yinyang's group bounds.
[[nodiscard]] bool uses_yinyang(Pruning pruning, std::uint64_t k);

/// How one iteration assigned the points.
enum class AssignPath : std::uint8_t {
  gemm,     ///< scores to every centre by GEMM
  hamerly,  ///< Hamerly's bounds, distances only for the points they did not settle
  yinyang,  ///< Yinyang's group bounds
};

/// The automatic rule: an iteration uses Hamerly's bounds when, after moving them by the centres'
/// drift (algorithms/kmeans/assign.hpp: widen_bounds), at most this fraction of all points fails
/// its bounds; otherwise one GEMM pass assigns every point and resets the bounds. A failing point
/// costs one distance (to tighten its bound) and, if that does not settle it, all k distances
/// (vectorised, about twice its share of a GEMM pass); the others cost a few operations. Measured
/// on 200,000 × 32 blobs, break-even lies near 45 % at k = 16 and 50 % at k = 256; 40 % keeps a
/// margin. Decided from a global count, so every rank takes the same path.
inline constexpr double hamerly_max_failing_fraction = 0.4;

/// The largest magnitude of a value (data or centre) K-means accepts: beyond it, squared distances
/// could overflow (d·(2·1e150)² is still finite).
inline constexpr double largest_supported_magnitude = 1e150;

/// Collective. Throws the same InputError on every rank when a value of `data` exceeds
/// largest_supported_magnitude (lloyd checks this too; callers check before other work).
void check_magnitudes(const engine::Communicator& comm, const linalg::RowBlockView& data);

/// What one iteration did, for progress logs (every rank gets the same global numbers).
struct IterationReport {
  std::uint64_t iteration = 0;       ///< 1-based
  double largest_shift = 0;          ///< max over centres of ‖c(new) − c(old)‖
  std::uint64_t changed_labels = 0;  ///< points whose label differs from the previous iteration's
  AssignPath path = AssignPath::gemm;
  std::uint64_t failing_bounds = 0;  ///< points whose moved bounds did not prove their label (0 in
                                     ///< iteration 1 and without pruning)
  std::uint64_t full_scans = 0;      ///< points of a Hamerly step that computed all k distances, or
                                     ///< of a Yinyang step that scanned groups
  std::uint64_t scanned_groups = 0;  ///< groups scanned by those points (Yinyang)
  std::uint64_t reseeded = 0;        ///< empty clusters re-seeded
  double seconds = 0;                ///< wall time of the iteration on this rank
};

/// Everything a Lloyd run needs to continue exactly where it stood after an iteration: what
/// LloydOptions::on_snapshot shows and LloydOptions::resume_from takes. Plain vectors and scalars,
/// so that a caller can write it anywhere. Members are either GLOBAL (the same on every rank) or
/// PER-ROW (one value for each of this rank's rows, in row order; each value depends only on its
/// global row and the run, never on the rank or the split, so a caller can write them row-sharded
/// and read them back re-sharded for another number of ranks).
struct LloydSnapshot {
  // ---- global --------------------------------------------------------------------------------
  std::uint64_t iterations = 0;          ///< iterations completed (>= 1 in any snapshot)
  std::uint64_t hamerly_iterations = 0;  ///< LloydResult's counters so far
  std::uint64_t yinyang_iterations = 0;
  std::uint64_t reseeded_clusters = 0;
  /// Points whose label changed in the last iteration (all ranks): with the centres' shift, what
  /// the convergence tests after that iteration look at.
  std::uint64_t changed_labels = 0;
  std::vector<double> centres;           ///< k × d: the centres the next iteration assigns to
  /// k × d: the centres the last iteration assigned to. Their distance to `centres` is the shift the
  /// tolerance is tested on and the drift that moves Hamerly's bounds.
  std::vector<double> previous_centres;
  /// The bounds below hold for `previous_centres` (the run tracked them: pruning not none).
  bool bounds_valid = false;
  /// Under Yinyang, the group of every centre (k values, groups 0..G−1), fixed for the run: the
  /// lower bounds refer to it. Empty otherwise.
  std::vector<std::int32_t> centre_groups;
  // ---- per row -------------------------------------------------------------------------------
  std::vector<std::int32_t> labels;  ///< the last iteration's assignment (nearest of previous_centres)
  /// Bounds on the distance to the own centre (upper, one per row) and to every other centre
  /// (lower: one per row under Hamerly, one per row and group under Yinyang, row after row), both
  /// empty unless bounds_valid. Needed because the next iteration's choice between Hamerly and
  /// GEMM, and so near ties' labels, depend on them.
  std::vector<double> upper_bounds, lower_bounds;
};

/// Lower bounds per row `snapshot` holds: one per centre group under Yinyang, else one. Global (from
/// the centre groups), so the same on every rank, also on one without rows.
[[nodiscard]] std::uint64_t lower_bounds_per_row(const LloydSnapshot& snapshot);

struct LloydOptions {
  std::uint64_t max_iterations = 300;  ///< >= 1
  /// Stop when the largest centre shift (Euclidean, absolute) is at most this (>= 0). Independently,
  /// an iteration in which no label changes ends the run ("strict convergence").
  double tolerance = 1e-4;
  Pruning pruning = Pruning::automatic;
  /// Called on every rank after each iteration.
  std::function<void(const IterationReport&)> on_iteration;
  /// Called on every rank after each iteration (after on_iteration), with the state after it and
  /// before the convergence tests: the last call shows the state after the last iteration, which
  /// resumes to the same result without another iteration. The reference is to the run's own
  /// state (no copy is made) and is valid during the call only. The callback decides whether to
  /// keep the snapshot and may throw: the exception leaves lloyd with no collective pending, so
  /// it propagates cleanly provided every rank throws (a rank that does not would wait in the
  /// next iteration's collectives).
  std::function<void(const LloydSnapshot&)> on_snapshot;
  /// When set, the run continues from this state instead of starting at iteration 0, and ends
  /// with the result the interrupted run would have had, bit for bit, on any number of ranks and
  /// any split of the rows, provided the data (global rows), pruning, max_iterations and tolerance
  /// are those of the run that took it (a larger max_iterations continues a run that stopped at
  /// its limit). A different pruning still gives correct labels, not necessarily the same bits.
  /// `initial_centres` must still be k × d (pass the original ones); their values are not used:
  /// the fixed-point scales derive from the data alone. Read during the call only.
  const LloydSnapshot* resume_from = nullptr;
};

struct LloydResult {
  std::uint64_t k = 0;
  std::vector<double> centroids;      ///< k × d row-major, identical on every rank
  std::vector<std::int32_t> labels;   ///< one per local row, matching `centroids`
  std::vector<std::uint64_t> sizes;   ///< points per cluster (from `labels`), every rank
  double inertia = 0;                 ///< Σ ‖x − c_label‖², summed exactly
  std::uint64_t iterations = 0;       ///< as scikit-learn's n_iter_
  bool converged = false;             ///< no label changed, or the shift fell to the tolerance
  std::uint64_t hamerly_iterations = 0;
  std::uint64_t yinyang_iterations = 0;  ///< iterations assigned by Yinyang's bounds (not the first scan)
  std::uint64_t reseeded_clusters = 0;  ///< over all iterations
  double iteration_seconds = 0;       ///< wall time of this call's iterations on this rank
};

/// Collective. `initial_centres`: k × d row-major, the same on every rank. Throws
/// std::invalid_argument (callers word it for their users) unless 1 <= k <= n, k < 2^31,
/// max_iterations >= 1 and tolerance >= 0, and, with resume_from, unless the snapshot fits: k × d
/// centres, 1 <= iterations <= max_iterations, per-row members of the local row count on every
/// rank (every rank throws the same message when one rank's rows do not fit), labels in [0, k).
/// Throws InputError when a value's magnitude exceeds largest_supported_magnitude. Times the
/// phases "assign", "update" and "inertia".
[[nodiscard]] LloydResult lloyd(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                std::span<const double> initial_centres, const LloydOptions& options,
                                engine::PhaseTimers& timers);

}  // namespace omniseg::kmeans
