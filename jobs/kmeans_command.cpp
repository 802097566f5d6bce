#include "jobs/kmeans_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "algorithms/kmeans/init.hpp"
#include "algorithms/kmeans/lloyd.hpp"
#include "algorithms/kmeans/quality.hpp"
#include "algorithms/linalg/blas.hpp"
#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/phase_timers.hpp"
#include "engine/wall_clock.hpp"
#include "io/hdf5.hpp"
#include "io/matrix_input.hpp"
#include "jobs/command_totals.hpp"
#include "jobs/kmeans_fit.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {
namespace {

/// The options checked before any data is read, with messages that name the options.
struct Settings {
  KRange k;
  std::optional<kmeans::InitMethod> init;  ///< empty with --init-centers
  kmeans::Pruning pruning = kmeans::Pruning::automatic;
};

Settings checked_settings(const KmeansCommandOptions& options) {
  Settings settings;
  settings.k = parse_k_range(options.k);
  if (options.init_centers.empty()) {
    if (options.init == "k-means++") {
      settings.init = kmeans::InitMethod::kmeans_plus_plus;
    } else if (options.init == "k-means||") {
      settings.init = kmeans::InitMethod::kmeans_parallel;
    } else {
      throw InputError(fmt::format("--init must be k-means++ or k-means||, got '{}'", options.init));
    }
  } else {
    if (options.n_init != 1) {
      throw InputError(fmt::format("--n-init {} needs random initialisation: --init-centers gives one start",
                                   options.n_init));
    }
    if (settings.k.sweep()) throw InputError("--init-centers fixes k: it cannot be combined with a sweep --k A:B");
  }
  if (options.pruning == "auto") {
    settings.pruning = kmeans::Pruning::automatic;
  } else if (options.pruning == "hamerly") {
    settings.pruning = kmeans::Pruning::hamerly;
  } else if (options.pruning == "yinyang") {
    settings.pruning = kmeans::Pruning::yinyang;
  } else if (options.pruning == "none") {
    settings.pruning = kmeans::Pruning::none;
  } else {
    throw InputError(fmt::format("--pruning must be auto, hamerly, yinyang or none, got '{}'", options.pruning));
  }
  if (options.max_iter < 1) throw InputError(fmt::format("--max-iter must be >= 1, got {}", options.max_iter));
  if (!(options.tol >= 0) || !std::isfinite(options.tol)) {
    throw InputError(fmt::format("--tol must be a finite number >= 0, got {}", options.tol));
  }
  if (options.n_init < 1) throw InputError(fmt::format("--n-init must be >= 1, got {}", options.n_init));
  return settings;
}

void write_result(const engine::Communicator& comm, const KmeansCommandOptions& options, const KmeansFitResult& fit,
                  std::uint64_t d) {
  const KmeansFit& chosen = fit.chosen;
  const auto& result = chosen.result;
  const std::vector<std::int64_t> sizes(result.sizes.begin(), result.sizes.end());
  io::write_file_atomically(comm, options.output, [&](io::File& file) {
    file.write_root_matrix("/kmeans/centroids", result.centroids, d);
    file.write_vector_rows("/kmeans/labels", result.labels);
    file.write_root_vector("/kmeans/sizes", sizes);
    file.write_double_attribute("/kmeans", "inertia", result.inertia);
    file.write_int_attribute("/kmeans", "n_iter", static_cast<std::int64_t>(result.iterations));
    file.write_int_attribute("/kmeans", "k", static_cast<std::int64_t>(result.k));
    file.write_int_attribute("/kmeans", "converged", result.converged ? 1 : 0);
    file.write_int_attribute("/kmeans", "seed", static_cast<std::int64_t>(options.seed));
    file.write_string_attribute("/kmeans", "init", options.init_centers.empty() ? options.init : "centers");
    if (!options.init_centers.empty()) file.write_string_attribute("/kmeans", "init_centers", options.init_centers);
    file.write_int_attribute("/kmeans", "n_init", options.n_init);
    file.write_int_attribute("/kmeans", "restart", static_cast<std::int64_t>(chosen.restart));
    file.write_double_attribute("/kmeans", "tol", options.tol);
    file.write_int_attribute("/kmeans", "max_iter", options.max_iter);
    file.write_string_attribute("/kmeans", "pruning", options.pruning);
    file.write_string_attribute("/kmeans", "input", options.input);
    write_kmeans_sweep(file, fit);
    file.write_string_attribute("/", "omniseg_version", version_line());
  });
}

}  // namespace

KRange parse_k_range(std::string_view text) {
  const auto parse_one = [text](std::string_view part) {
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (error != std::errc() || end != part.data() + part.size() || part.empty()) {
      throw InputError(fmt::format("--k must be a positive integer K or a range A:B, got '{}'", text));
    }
    if (value < 1) throw InputError(fmt::format("--k must be >= 1, got '{}'", text));
    return static_cast<std::uint64_t>(value);
  };
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    const std::uint64_t k = parse_one(text);
    return {k, k};
  }
  const KRange range{parse_one(text.substr(0, colon)), parse_one(text.substr(colon + 1))};
  if (range.first > range.last) throw InputError(fmt::format("--k range A:B needs A <= B, got '{}'", text));
  return range;
}

void add_kmeans_command(CLI::App& app, Selection& selection) {
  auto options = std::make_shared<KmeansCommandOptions>();
  auto* kmeans = app.add_subcommand("kmeans", "K-means of an n × d HDF5 matrix (Lloyd over all ranks, exact sums)");
  kmeans->add_option("--input", options->input, "The matrix: FILE.h5:/path/to/dataset (2-D, float32 or float64)")
      ->required();
  kmeans->add_option("--k", options->k, "Clusters K, or a sweep A:B scored by silhouette and Calinski-Harabasz")
      ->required();
  auto* init = kmeans->add_option("--init", options->init, "Initial centres: k-means++ or k-means||")
                   ->capture_default_str();
  kmeans->add_option("--init-centers", options->init_centers, "Initial centres from FILE.h5:/C (K × d)")
      ->excludes(init);
  kmeans->add_option("--max-iter", options->max_iter, "Most Lloyd iterations per run")->capture_default_str();
  kmeans->add_option("--tol", options->tol,
                     "Stop when no centre moves farther than this (Euclidean, absolute); 0: only when no label changes")
      ->capture_default_str();
  kmeans->add_option("--n-init", options->n_init, "Runs from different random starts per k; the lowest inertia wins")
      ->capture_default_str();
  kmeans->add_option("--seed", options->seed, "Seed of the initialisation (and of the silhouette sample)")
      ->capture_default_str();
  kmeans->add_option("--pruning", options->pruning,
                     "auto (Yinyang's group bounds from 64 centres on; below, Hamerly's bounds when they pay, decided "
                     "per iteration), hamerly, yinyang or none")
      ->capture_default_str();
  kmeans->add_option("--output", options->output, "Output HDF5 file (written atomically)")->required();
  kmeans->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) { run_kmeans(comm, *options); };
  });
}

void run_kmeans(const engine::Communicator& comm, const KmeansCommandOptions& options) {
  const double start = engine::wall_seconds();
  linalg::use_one_blas_thread();
  const Settings settings = checked_settings(options);  // bad options fail before any work
  const auto source = io::MatrixSource::parse(options.input, "--input");
  std::optional<io::MatrixSource> centres_source;
  if (!options.init_centers.empty()) centres_source = io::MatrixSource::parse(options.init_centers, "--init-centers");

  engine::PhaseTimers timers(comm);
  io::MatrixBlock matrix;
  io::MatrixBlock given_centres;
  {
    auto phase = timers.phase("read");
    matrix = io::read_matrix_block(comm, source);
    if (centres_source) given_centres = io::read_whole_matrix(comm, *centres_source);
  }
  const std::uint64_t n = matrix.global_rows, d = matrix.columns;
  // The same shapes on every rank: all throw together.
  if (settings.k.last > n) {
    throw InputError(fmt::format("--k {} exceeds the {} points of {}", options.k, n, options.input));
  }
  if (centres_source && (given_centres.global_rows != settings.k.first || given_centres.columns != d)) {
    throw InputError(fmt::format("--init-centers {} is {} × {}, but --k {} on the {} × {} input needs {} × {}",
                                 options.init_centers, given_centres.global_rows, given_centres.columns, options.k, n,
                                 d, settings.k.first, d));
  }
  spdlog::info("kmeans: {} × {} matrix from {}; k {}; init {}; max-iter {}, tol {:g}, n-init {}, pruning {}", n, d,
               options.input, options.k, centres_source ? options.init_centers : options.init, options.max_iter,
               options.tol, options.n_init, options.pruning);

  const linalg::RowBlockView view{matrix.values, matrix.local_rows(), d, matrix.rows.begin, n};
  kmeans::check_magnitudes(comm, view);
  const KmeansFitSettings fit_settings{.k_first = settings.k.first, .k_last = settings.k.last,
                                 .init = settings.init.value_or(kmeans::InitMethod::kmeans_plus_plus),
                                 .given_centres = centres_source ? given_centres.values : std::vector<double>{},
                                 .restarts = static_cast<std::uint64_t>(options.n_init), .seed = options.seed,
                                 .max_iterations = static_cast<std::uint64_t>(options.max_iter),
                                 .tolerance = options.tol, .pruning = settings.pruning, .on_progress = {},
                                 .resume_from = nullptr};
  const KmeansFitResult fit = fit_kmeans(comm, view, fit_settings, timers);
  {
    auto phase = timers.phase("write");
    write_result(comm, options, fit, d);
  }
  const auto& result = fit.chosen.result;
  const auto& sweep = fit.sweep;
  const auto totals = command_totals(comm, timers, start);
  const double iteration_seconds = comm.allreduce(fit.iteration_seconds, engine::ReduceOp::max);
  const std::uint64_t total_iterations = fit.total_iterations;
  spdlog::info("kmeans: k {}, inertia {:.10g}, {} iterations; wrote {}; phase times across ranks:\n{}", result.k,
               result.inertia, result.iterations, options.output, engine::format_table(totals.phases));
  if (comm.is_root()) {
    nlohmann::json summary = {
        {"command", "kmeans"},
        {"input", options.input},
        {"ranks", comm.size()},
        {"n", n},
        {"d", d},
        {"k", result.k},
        {"inertia", result.inertia},
        {"n_iter", result.iterations},
        {"converged", result.converged},
        {"init", centres_source ? "centers" : options.init},
        {"n_init", options.n_init},
        {"pruning",
         {{"mode", options.pruning},
          {"hamerly_iterations", result.hamerly_iterations},
          {"yinyang_iterations", result.yinyang_iterations}}},
        {"reseeded_clusters", result.reseeded_clusters},
        {"output", options.output},
        {"seconds", totals.seconds},
        {"seconds_per_iter", total_iterations > 0 ? iteration_seconds / static_cast<double>(total_iterations) : 0.0},
        {"peak_rss_bytes_max_rank", totals.peak_rss_bytes_max_rank},
        {"phases", engine::to_json(totals.phases)},
    };
    if (!sweep.empty()) {
      nlohmann::json points = nlohmann::json::array();
      for (std::size_t i = 0; i < sweep.size(); ++i) {
        points.push_back({{"k", sweep[i].k},
                          {"inertia", sweep[i].inertia},
                          {"calinski_harabasz", sweep[i].calinski_harabasz},
                          {"silhouette", sweep[i].silhouette},
                          {"n_iter", fit.sweep_iterations[i]}});
      }
      summary["sweep"] = points;
      summary["silhouette_sample"] = fit.chosen.quality.silhouette_sample;
    }
    std::cout << summary.dump() << std::endl;
  }
}

}  // namespace omniseg::jobs
