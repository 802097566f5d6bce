#include "jobs/kmeans_fit.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace omniseg::jobs {

namespace {

std::string iteration_line(std::uint64_t k, std::uint64_t restart, kmeans::Pruning pruning,
                           const kmeans::IterationReport& report) {
  const std::string bounds = pruning == kmeans::Pruning::none || report.iteration == 1 ? ""
                             : report.hamerly ? fmt::format(" ({} bounds failed, {} full scans)", report.failing_bounds,
                                                            report.full_scans)
                                              : fmt::format(" ({} bounds failed)", report.failing_bounds);
  return fmt::format("kmeans: k {} run {} iteration {}: shift {:.3g}, {} labels changed, {}{}{}, {:.3f} s", k,
                     restart + 1, report.iteration, report.largest_shift, report.changed_labels,
                     report.hamerly ? "hamerly" : "gemm", bounds,
                     report.reseeded ? fmt::format(", {} empty clusters re-seeded", report.reseeded) : "",
                     report.seconds);
}

}  // namespace

KmeansFitResult fit_kmeans(const engine::Communicator& comm, const linalg::RowBlockView& data,
                           const KmeansFitSettings& settings, engine::PhaseTimers& timers) {
  KmeansFitResult fit;
  std::optional<KmeansFit> chosen;
  for (std::uint64_t k = settings.k_first; k <= settings.k_last; ++k) {
    std::optional<KmeansFit> best;
    for (std::uint64_t restart = 0; restart < settings.restarts; ++restart) {
      std::vector<double> centres;
      {
        auto phase = timers.phase("init");
        centres = !settings.given_centres.empty()
                      ? settings.given_centres
                      : kmeans::initial_centres(comm, data,
                                                {.method = settings.init, .k = k, .seed = settings.seed, .restart = restart});
      }
      kmeans::LloydOptions lloyd_options;
      lloyd_options.max_iterations = settings.max_iterations;
      lloyd_options.tolerance = settings.tolerance;
      lloyd_options.pruning = settings.pruning;
      lloyd_options.on_iteration = [k, restart, pruning = settings.pruning](const kmeans::IterationReport& report) {
        spdlog::info("{}", iteration_line(k, restart, pruning, report));
      };
      auto result = kmeans::lloyd(comm, data, centres, lloyd_options, timers);
      fit.total_iterations += result.iterations;
      fit.iteration_seconds += result.iteration_seconds;
      spdlog::info("kmeans: k {} run {}: inertia {:.10g} after {} iterations ({}converged)", k, restart + 1,
                   result.inertia, result.iterations, result.converged ? "" : "not ");
      // Lowest inertia; an equal one keeps the earlier run.
      if (!best || result.inertia < best->result.inertia) best = KmeansFit{std::move(result), {}, restart};
    }
    if (!settings.sweep()) {
      chosen = std::move(best);
      break;
    }
    {
      auto phase = timers.phase("quality");
      best->quality = kmeans::cluster_quality(comm, data, best->result.labels, best->result.centroids,
                                              best->result.sizes, best->result.inertia, settings.seed);
    }
    fit.sweep.push_back({.k = k, .inertia = best->result.inertia, .calinski_harabasz = best->quality.calinski_harabasz,
                         .silhouette = best->quality.silhouette});
    fit.sweep_iterations.push_back(best->result.iterations);
    spdlog::info("kmeans: k {}: inertia {:.10g}, Calinski-Harabasz {:.6g}, silhouette {:.4f} (on {} rows)", k,
                 best->result.inertia, best->quality.calinski_harabasz, best->quality.silhouette,
                 best->quality.silhouette_sample);
    // The rule ranks a prefix of the sweep as it ranks the whole: keep the fit it picks so far.
    if (kmeans::pick_k(fit.sweep) == fit.sweep.size() - 1) chosen = std::move(best);
  }
  fit.chosen = std::move(*chosen);
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
