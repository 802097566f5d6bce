// algorithms/kmeans/lloyd.hpp — K-means (Lloyd's algorithm) over a row-sharded matrix, with the
// same labels and centroids, bit for bit, on any number of ranks.
//
// Owns: the distributed driver. Each iteration assigns every local point to its nearest centre
// (algorithms/kmeans/assign.hpp: GEMM tiles aligned to global rows, or Hamerly's bounds where
// they pay), then one exact allreduce of per-cluster fixed-point sums and counts gives new
// centres identical on every rank; after the first iteration only the points that changed
// cluster are moved between the sums. Empty clusters are re-seeded as scikit-learn does. Iteration
// count, convergence and the final re-assignment follow scikit-learn 1.2's
// `_kmeans_single_lloyd`, so `iterations` is its `n_iter_`. Does not own: initial centres
// (algorithms/kmeans/init.hpp), restarts and the k sweep (jobs/kmeans_command.cpp), files.
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
  automatic,  ///< per iteration: Hamerly when few points fail their bounds, else GEMM for all
  hamerly,    ///< Hamerly's bounds in every iteration after the first
  none,       ///< GEMM distances to every centre in every iteration (plain Lloyd)
};
[[nodiscard]] std::string_view to_string(Pruning pruning);

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
  bool hamerly = false;              ///< the assignment used Hamerly's bounds
  std::uint64_t failing_bounds = 0;  ///< points whose moved bounds did not prove their label (0 in
                                     ///< iteration 1 and without pruning)
  std::uint64_t full_scans = 0;      ///< points of a Hamerly step that computed all k distances
  std::uint64_t reseeded = 0;        ///< empty clusters re-seeded
  double seconds = 0;                ///< wall time of the iteration on this rank
};

struct LloydOptions {
  std::uint64_t max_iterations = 300;  ///< >= 1
  /// Stop when the largest centre shift (Euclidean, absolute) is at most this (>= 0). Independently,
  /// an iteration in which no label changes ends the run ("strict convergence").
  double tolerance = 1e-4;
  Pruning pruning = Pruning::automatic;
  /// Called on every rank after each iteration.
  std::function<void(const IterationReport&)> on_iteration;
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
  std::uint64_t reseeded_clusters = 0;  ///< over all iterations
  double iteration_seconds = 0;       ///< wall time of the iterations on this rank
};

/// Collective. `initial_centres`: k × d row-major, the same on every rank. Throws
/// std::invalid_argument (callers word it for their users) unless 1 <= k <= n, k < 2^31,
/// max_iterations >= 1 and tolerance >= 0; throws InputError when a value's magnitude exceeds
/// largest_supported_magnitude. Times the phases "assign", "update" and "inertia".
[[nodiscard]] LloydResult lloyd(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                std::span<const double> initial_centres, const LloydOptions& options,
                                engine::PhaseTimers& timers);

}  // namespace omniseg::kmeans
