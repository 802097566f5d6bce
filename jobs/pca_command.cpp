#include "jobs/pca_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "algorithms/linalg/blas.hpp"
#include "algorithms/pca/pca.hpp"
#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/phase_timers.hpp"
#include "engine/wall_clock.hpp"
#include "io/hdf5.hpp"
#include "io/matrix_input.hpp"
#include "jobs/command_totals.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {
namespace {

/// The options that only make sense once the matrix's shape is known; messages name the options.
void check_against_shape(const PcaCommandOptions& options, const io::MatrixBlock& matrix) {
  if (matrix.global_rows < 2) {
    throw InputError(fmt::format("{}: PCA needs at least 2 rows, the matrix has {}", options.input,
                                 matrix.global_rows));
  }
  const std::uint64_t most = std::min(matrix.global_rows, matrix.columns);
  if (options.components < 1 || static_cast<std::uint64_t>(options.components) > most) {
    throw InputError(fmt::format("--components must lie in [1, min(rows, columns)] = [1, {}] for the {} × {} matrix "
                                 "{}, got {}",
                                 most, matrix.global_rows, matrix.columns, options.input, options.components));
  }
}

void write_model(const engine::Communicator& comm, const std::string& path, const pca::PcaModel& model,
                 const std::vector<double>& projection, const PcaCommandOptions& options) {
  const std::uint64_t d = model.columns;
  io::write_file_atomically(comm, path, [&](io::File& file) {
    file.write_root_matrix("/pca/components", model.components, d);
    file.write_root_vector("/pca/explained_variance", model.explained_variance);
    file.write_root_vector("/pca/explained_variance_ratio", model.explained_variance_ratio);
    file.write_root_vector("/pca/singular_values", model.singular_values);
    file.write_root_vector("/pca/mean", model.mean);
    if (options.standardize) file.write_root_vector("/pca/scale", model.scale);
    file.write_matrix_rows("/pca/projection", projection, model.components.size() / d);
    file.write_int_attribute("/pca", "rows", static_cast<std::int64_t>(model.rows));
    file.write_int_attribute("/pca", "columns", static_cast<std::int64_t>(d));
    file.write_int_attribute("/pca", "components", options.components);
    file.write_int_attribute("/pca", "standardize", options.standardize ? 1 : 0);
    file.write_double_attribute("/pca", "total_variance", model.total_variance);
    file.write_string_attribute("/pca", "input", options.input);
    file.write_string_attribute("/pca", "sign_convention", "each component's entry of largest magnitude is positive");
    file.write_string_attribute("/", "omniseg_version", version_line());
  }, {.page_cache_bypass = {.enabled = options.bypass_page_cache}});
}

}  // namespace

void add_pca_command(CLI::App& app, Selection& selection) {
  auto options = std::make_shared<PcaCommandOptions>();
  auto* pca = app.add_subcommand("pca", "Principal components of an n × d HDF5 matrix (TSQR over all ranks)");
  pca->add_option("--input", options->input, "The matrix: FILE.h5:/path/to/dataset (2-D, float32 or float64)")
      ->required();
  pca->add_option("--components", options->components, "Number of principal components Q, 1 <= Q <= min(n, d)")
      ->required();
  pca->add_flag("--standardize", options->standardize,
                "Divide each centred column by its standard deviation (population, as StandardScaler)");
  pca->add_option("--output", options->output, "Output HDF5 file (written atomically)")->required();
  add_bypass_page_cache_option(*pca, options->bypass_page_cache);
  pca->add_option("--chunk-rows", options->chunk_rows, "Rows per chunk, the leaves of the QR tree (tuning; the result depends on it, never on the rank count)")
      ->capture_default_str()
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 20));
  pca->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) { run_pca(comm, *options); };
  });
}

void run_pca(const engine::Communicator& comm, const PcaCommandOptions& options) {
  const double start = engine::wall_seconds();
  linalg::use_one_blas_thread();
  const auto source = io::MatrixSource::parse(options.input, "--input");
  engine::PhaseTimers timers(comm);
  io::MatrixBlock matrix;
  {
    auto phase = timers.phase("read");
    matrix = io::read_matrix_block(comm, source);
  }
  check_against_shape(options, matrix);  // the same shape on every rank: all throw together
  spdlog::info("pca: {} × {} matrix from {}; {} components{}", matrix.global_rows, matrix.columns, options.input,
               options.components, options.standardize ? ", standardized" : "");
  const linalg::RowBlockView view{matrix.values, matrix.local_rows(), matrix.columns, matrix.rows.begin,
                                  matrix.global_rows};
  const pca::PcaOptions settings{.components = static_cast<std::uint64_t>(options.components),
                                 .standardize = options.standardize,
                                 .blocking = {.chunk_rows = options.chunk_rows}};
  const auto model = engine::collectively(comm, [&] { return pca::fit_pca(comm, view, settings, timers); });
  std::vector<double> projection;
  {
    auto phase = timers.phase("projection");
    projection = pca::project(view, model);
  }
  {
    auto phase = timers.phase("write");
    write_model(comm, options.output, model, projection, options);
  }
  const auto totals = command_totals(comm, timers, start);
  spdlog::info("pca: explained variance ratio {:.4g}; wrote {}; phase times across ranks:\n{}",
               fmt::join(model.explained_variance_ratio, " "), options.output, engine::format_table(totals.phases));
  if (comm.is_root()) {
    const nlohmann::json summary = {
        {"command", "pca"},
        {"input", options.input},
        {"ranks", comm.size()},
        {"rows", model.rows},
        {"columns", model.columns},
        {"components", options.components},
        {"standardize", options.standardize},
        {"explained_variance", model.explained_variance},
        {"explained_variance_ratio", model.explained_variance_ratio},
        {"singular_values", model.singular_values},
        {"total_variance", model.total_variance},
        {"output", options.output},
        {"seconds", totals.seconds},
        {"peak_rss_bytes_max_rank", totals.peak_rss_bytes_max_rank},
        {"phases", engine::to_json(totals.phases)},
    };
    std::cout << summary.dump() << std::endl;
  }
}

}  // namespace omniseg::jobs
