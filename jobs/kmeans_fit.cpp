#include "jobs/kmeans_fit.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

namespace omniseg::jobs {

namespace {

std::string iteration_line(std::uint64_t k, std::uint64_t restart, kmeans::Pruning pruning,
                           const kmeans::IterationReport& report) {
  using kmeans::AssignPath;
  const bool with_bounds = pruning != kmeans::Pruning::none && report.iteration > 1;
  std::string_view path;
  std::string bounds;
  switch (report.path) {
    case AssignPath::gemm:
      path = "gemm";
      if (with_bounds) bounds = fmt::format(" ({} bounds failed)", report.failing_bounds);
      break;
    case AssignPath::hamerly:
      path = "hamerly";
      if (with_bounds) {
        bounds = fmt::format(" ({} bounds failed, {} full scans)", report.failing_bounds, report.full_scans);
      }
      break;
    case AssignPath::yinyang:
      path = "yinyang";
      if (with_bounds) {
        bounds = fmt::format(" ({} bounds failed, {} points scanned {} groups)", report.failing_bounds,
                             report.full_scans, report.scanned_groups);
      }
      break;
  }
  return fmt::format("kmeans: k {} run {} iteration {}: shift {:.3g}, {} labels changed, {}{}{}, {:.3f} s", k,
                     restart + 1, report.iteration, report.largest_shift, report.changed_labels,
                     path, bounds,
                     report.reseeded ? fmt::format(", {} empty clusters re-seeded", report.reseeded) : "",
                     report.seconds);
}

}  // namespace

KmeansFitResult fit_kmeans(const engine::Communicator& comm, const linalg::RowBlockView& data,
                           const KmeansFitSettings& settings, engine::PhaseTimers& timers) {
  KmeansFitResult fit;
  KmeansFitState state;
  const kmeans::LloydSnapshot* resume_lloyd = nullptr;
  if (settings.resume_from != nullptr) {
    state = settings.resume_from->state;
    resume_lloyd = &settings.resume_from->lloyd;
    spdlog::info("kmeans: resuming k {} run {} after iteration {}", state.k, state.restart + 1,
                 resume_lloyd->iterations);
  } else {
    state.k = settings.k_first;
  }
  for (; state.k <= settings.k_last; ++state.k, state.restart = 0) {
    for (; state.restart < settings.restarts; ++state.restart) {
      const std::uint64_t k = state.k, restart = state.restart;
      std::vector<double> centres;
      if (resume_lloyd == nullptr) {
        auto phase = timers.phase("init");
        centres = !settings.given_centres.empty()
                      ? settings.given_centres
                      : kmeans::initial_centres(comm, data,
                                                {.method = settings.init, .k = k, .seed = settings.seed, .restart = restart});
      } else {
        centres = resume_lloyd->centres;  // the shape check; the snapshot decides the next iteration
      }
      kmeans::LloydOptions lloyd_options;
      lloyd_options.max_iterations = settings.max_iterations;
      lloyd_options.tolerance = settings.tolerance;
      lloyd_options.pruning = settings.pruning;
      lloyd_options.resume_from = std::exchange(resume_lloyd, nullptr);
      lloyd_options.on_iteration = [k, restart, pruning = settings.pruning](const kmeans::IterationReport& report) {
        spdlog::info("{}", iteration_line(k, restart, pruning, report));
      };
      if (settings.on_progress) {
        lloyd_options.on_snapshot = [&state, &settings](const kmeans::LloydSnapshot& snapshot) {
          settings.on_progress(state, snapshot);
        };
      }
      auto result = kmeans::lloyd(comm, data, centres, lloyd_options, timers);
      state.total_iterations += result.iterations;
      fit.iteration_seconds += result.iteration_seconds;
      spdlog::info("kmeans: k {} run {}: inertia {:.10g} after {} iterations ({}converged)", k, restart + 1,
                   result.inertia, result.iterations, result.converged ? "" : "not ");
      // Lowest inertia; an equal one keeps the earlier run.
      if (!state.best || result.inertia < state.best->result.inertia) {
        state.best = KmeansFit{std::move(result), {}, restart};
      }
    }
    auto best = std::exchange(state.best, std::nullopt);
    if (!settings.sweep()) {
      state.chosen = std::move(best);
      break;
    }
    {
      auto phase = timers.phase("quality");
      best->quality = kmeans::cluster_quality(comm, data, best->result.labels, best->result.centroids,
                                              best->result.sizes, best->result.inertia, settings.seed);
    }
    state.sweep.push_back({.k = state.k, .inertia = best->result.inertia,
                           .calinski_harabasz = best->quality.calinski_harabasz, .silhouette = best->quality.silhouette});
    state.sweep_iterations.push_back(best->result.iterations);
    spdlog::info("kmeans: k {}: inertia {:.10g}, Calinski-Harabasz {:.6g}, silhouette {:.4f} (on {} rows)", state.k,
                 best->result.inertia, best->quality.calinski_harabasz, best->quality.silhouette,
                 best->quality.silhouette_sample);
    // The rule ranks a prefix of the sweep as it ranks the whole: keep the fit it picks so far.
    if (kmeans::pick_k(state.sweep) == state.sweep.size() - 1) state.chosen = std::move(best);
  }
  fit.chosen = std::move(*state.chosen);
  fit.sweep = std::move(state.sweep);
  fit.sweep_iterations = std::move(state.sweep_iterations);
  fit.total_iterations = state.total_iterations;
  return fit;
}

void write_kmeans_sweep(io::File& file, const KmeansFitResult& fit) {
  if (fit.sweep.empty()) return;
  std::vector<std::int64_t> ks, iterations;
  std::vector<double> inertia, calinski_harabasz, silhouette;
  for (std::size_t i = 0; i < fit.sweep.size(); ++i) {
    ks.push_back(static_cast<std::int64_t>(fit.sweep[i].k));
    iterations.push_back(static_cast<std::int64_t>(fit.sweep_iterations[i]));
    inertia.push_back(fit.sweep[i].inertia);
    calinski_harabasz.push_back(fit.sweep[i].calinski_harabasz);
    silhouette.push_back(fit.sweep[i].silhouette);
  }
  file.write_root_vector("/kmeans/sweep/k", ks);
  file.write_root_vector("/kmeans/sweep/inertia", inertia);
  file.write_root_vector("/kmeans/sweep/calinski_harabasz", calinski_harabasz);
  file.write_root_vector("/kmeans/sweep/silhouette", silhouette);
  file.write_root_vector("/kmeans/sweep/n_iter", iterations);
  file.write_int_attribute("/kmeans/sweep", "silhouette_sample",
                           static_cast<std::int64_t>(fit.chosen.quality.silhouette_sample));
  file.write_string_attribute("/kmeans/sweep", "rule", "highest silhouette, ties to the smaller k");
}

}  // namespace omniseg::jobs
