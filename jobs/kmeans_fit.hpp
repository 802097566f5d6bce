// jobs/kmeans_fit.hpp — K-means as a job runs it: restarts per k, and a k sweep scored by quality.
//
// Owns: the loop over k and over restarts, which run wins (lowest inertia, the earlier on a tie),
// which k a sweep keeps (algorithms/kmeans/quality.hpp: pick_k), the progress log lines, and the
// loop's state after every Lloyd iteration (KmeansFitState + the run's LloydSnapshot), from which
// a fit resumes to the uninterrupted result bit for bit. Shared by `omniseg kmeans` and the
// segmentation job, and so is how a sweep is written (/kmeans/sweep).
// Does not own: seeding and Lloyd iterations (algorithms/kmeans/), the rest of the files.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "algorithms/kmeans/init.hpp"
#include "algorithms/kmeans/lloyd.hpp"
#include "algorithms/kmeans/quality.hpp"
#include "algorithms/linalg/row_block.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"
#include "io/hdf5.hpp"

namespace omniseg::jobs {

/// The best of the restarts at one k, with its quality when sweeping.
struct KmeansFit {
  kmeans::LloydResult result;
  kmeans::ClusterQuality quality;
  std::uint64_t restart = 0;  ///< which restart won
};

/// Where the loop over k and restarts stands while the Lloyd run of (k, restart) is in flight: what
/// the finished runs left behind. With that run's LloydSnapshot it is all a fit needs to resume.
/// Labels inside `best` and `chosen` are per row (this rank's rows); everything else is global.
struct KmeansFitState {
  std::uint64_t k = 0;        ///< the run in flight
  std::uint64_t restart = 0;
  std::optional<KmeansFit> best;    ///< the best finished restart at this k
  std::optional<KmeansFit> chosen;  ///< a sweep's pick among the finished k (or the fit of one k)
  std::vector<kmeans::SweepPoint> sweep;
  std::vector<std::uint64_t> sweep_iterations;
  std::uint64_t total_iterations = 0;  ///< over the finished runs
};

/// A point to resume from: a state and the in-flight run's snapshot.
struct KmeansResumePoint {
  KmeansFitState state;
  kmeans::LloydSnapshot lloyd;
};

struct KmeansFitSettings {
  std::uint64_t k_first = 1;
  std::uint64_t k_last = 1;  ///< > k_first: a sweep
  kmeans::InitMethod init = kmeans::InitMethod::kmeans_plus_plus;
  /// k × d starting centres instead of seeding (one k, one restart); empty: seed with `init`.
  std::vector<double> given_centres;
  std::uint64_t restarts = 1;
  std::uint64_t seed = 0;
  std::uint64_t max_iterations = 300;
  double tolerance = 1e-4;
  kmeans::Pruning pruning = kmeans::Pruning::automatic;
  /// Called on every rank after every Lloyd iteration, with the loop's state and the run's
  /// snapshot (both valid during the call only). May throw on every rank to stop the fit.
  std::function<void(const KmeansFitState&, const kmeans::LloydSnapshot&)> on_progress;
  /// Continue from here instead of starting at the first k; the result is the uninterrupted one's.
  const KmeansResumePoint* resume_from = nullptr;
  [[nodiscard]] bool sweep() const { return k_last > k_first; }
};


struct KmeansFitResult {
  KmeansFit chosen;
  std::vector<kmeans::SweepPoint> sweep;        ///< one per k of a sweep; empty for one k
  std::vector<std::uint64_t> sweep_iterations;  ///< Lloyd iterations of each sweep point's fit
  std::uint64_t total_iterations = 0;           ///< over every k and restart
  double iteration_seconds = 0;                 ///< this rank
};

/// Collective. Settings must be valid (1 <= k_first <= k_last <= global rows, restarts >= 1).
/// Times "init" and "quality" (and Lloyd's phases) in `timers`; logs progress on rank 0.
[[nodiscard]] KmeansFitResult fit_kmeans(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                         const KmeansFitSettings& settings, engine::PhaseTimers& timers);

/// Collective over the file's communicator: /kmeans/sweep/{k, inertia, calinski_harabasz,
/// silhouette, n_iter} with attributes `silhouette_sample` and `rule`; nothing for one k.
void write_kmeans_sweep(io::File& file, const KmeansFitResult& fit);

}  // namespace omniseg::jobs
