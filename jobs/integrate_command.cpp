#include "jobs/integrate_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "algorithms/features/decimal_text.hpp"
#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/phase_timers.hpp"
#include "engine/resources.hpp"
#include "engine/wall_clock.hpp"
#include "io/hdf5.hpp"
#include "io/ordered_text.hpp"
#include "jobs/command_totals.hpp"
#include "jobs/input_tables.hpp"
#include "jobs/integrate_pipeline.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {
namespace {

/// features.csv: customer_id, then the features; doubles in the shortest text that reads back to
/// the same bits, so the file is as exact as features.h5.
std::string features_csv_text(const engine::Communicator& comm, const IntegrationResult& result) {
  std::string text;
  const std::size_t width = result.feature_names.size();
  const std::size_t rows = result.features.customer_ids.size();
  // Reserved for wide numbers (real rows take a third of it): pages are touched only when written,
  // and the text never moves while it grows.
  text.reserve(rows * (width + 1) * 24 + 64);
  if (comm.is_root()) {
    text += "customer_id";
    for (const auto& name : result.feature_names) io::append_csv_field(text += ',', name);
    text += '\n';
  }
  std::vector<char> line((width + 1) * (features::max_number_chars + 1));
  for (std::size_t row = 0; row < rows; ++row) {
    char* out = features::write_decimal(line.data(), result.features.customer_ids[row]);
    const double* values = result.features.matrix.data() + row * width;
    for (std::size_t c = 0; c < width; ++c) {
      *out++ = ',';
      out = features::write_shortest(out, values[c]);
    }
    *out++ = '\n';
    text.append(line.data(), static_cast<std::size_t>(out - line.data()));
  }
  return text;
}

void write_features_h5(const engine::Communicator& comm, const std::filesystem::path& path, const JobConfig& config,
                       const IntegrationResult& result) {
  io::write_file_atomically(comm, path, [&](io::File& file) {
    file.write_vector_rows("/customers/id", result.features.customer_ids);
    file.write_matrix_rows("/features/matrix", result.features.matrix, result.feature_names.size());
    file.write_root_strings("/features/names", result.feature_names);
    file.write_string_attribute("/features", "as_of", config.features.as_of_text);
    file.write_string_attribute("/features", "money_unit", "currency units (unit_price x quantity)");
    file.write_string_attribute("/", "omniseg_version", version_line());
    file.write_string_attribute("/", "config", config.config_text);
  }, {.page_cache_bypass = config.output_page_cache});
}

}  // namespace

nlohmann::json accounting_json(const IntegrationResult& result) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& file : result.accounting) {
    files[file.file] = {{"read", file.read}, {"joined", file.joined}, {"anonymous", file.anonymous},
                        {"rejected", file.rejected}};
  }
  nlohmann::json accounting = files;
  accounting["identity_conflicts"] = result.identity_conflict_keys;
  return accounting;
}

void log_accounting(const IntegrationResult& result) {
  spdlog::info("input accounting (read = joined + anonymous + rejected):");
  for (const auto& file : result.accounting) {
    std::string reasons;
    for (const auto& [reason, count] : file.rejected) reasons += fmt::format(" {}={}", reason, count);
    spdlog::info("  {:<24} read {:>12}  joined {:>12}  anonymous {:>10}  rejected {:>10}{}", file.file, file.read,
                 file.joined, file.anonymous, file.rejected_total(), reasons);
  }
  spdlog::info("  identity keys mapped to several customers: {}", result.identity_conflict_keys);
}

void write_rejects(const engine::Communicator& comm, const JobConfig& config, const std::filesystem::path& out,
                   std::vector<io::RejectRecord> rejects) {
  const InputFiles files(config);
  std::vector<std::pair<std::string, std::string>> file_names;
  for (const auto* input : files.inputs) file_names.emplace_back(input->path, input->display_name);
  io::write_rejects_csv(comm, (out / "rejects.csv").string(), std::move(rejects), file_names, reject_column_names(files));
}

void add_integrate_command(CLI::App& app, Selection& selection) {
  auto options = std::make_shared<IntegrateCommandOptions>();
  auto* integrate = app.add_subcommand(
      "integrate", "Join the channels' order exports, identity map, items and customers into per-customer features");
  integrate->add_option("--config", options->config, "The job configuration (JOB.toml; keys in docs/formats.md)")
      ->required();
  integrate->add_option("--output", options->output, "Output directory (overrides [output].directory)");
  integrate->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) { run_integrate(comm, *options); };
  });
}

void run_integrate(const engine::Communicator& comm, const IntegrateCommandOptions& options) {
  const double start = engine::wall_seconds();
  JobConfig config = load_job_config(comm, options.config);
  if (!options.output.empty()) config.output_directory = options.output;
  if (config.output_directory.empty()) {
    throw InputError(fmt::format("{}: no output directory: give --output DIR or [output] directory = \"...\"", options.config));
  }
  const std::filesystem::path out(config.output_directory);
  engine::collectively(comm, [&] {
    if (comm.is_root()) std::filesystem::create_directories(out);
  });

  engine::PhaseTimers timers(comm);
  IntegrationResult result = integrate(comm, config, timers);
  {
    auto phase = timers.phase("write");
    write_features_h5(comm, out / "features.h5", config, result);
    io::write_ordered_text(comm, (out / "features.csv").string(), features_csv_text(comm, result),
                           config.output_page_cache);
    io::write_ordered_text(comm, (out / "baskets.dat").string(), result.baskets.text, config.output_page_cache);
    write_rejects(comm, config, out, std::move(result.rejects));
  }
  const auto totals = command_totals(comm, timers, start);
  const auto peak_rss_per_rank = comm.allgather(engine::peak_resident_bytes());
  if (comm.is_root()) log_accounting(result);
  spdlog::info("integrate: {} customers × {} features, {} baskets, in {:.2f} s; phase times across ranks:\n{}",
               result.customers_with_features, result.feature_names.size(), result.baskets_total, totals.seconds,
               engine::format_table(totals.phases));

  nlohmann::json joins = nlohmann::json::array();
  for (const auto& join : result.joins) {
    joins.push_back({{"join", join.name}, {"strategy", join.strategy}, {"heavy_keys", join.heavy_keys},
                     {"matched_rows", join.matched_rows}, {"keys_sent", join.keys_sent},
                     {"bytes_moved", join.bytes_moved}});
  }
  std::uint64_t rejected = 0;
  for (const auto& file : result.accounting) rejected += file.rejected_total();
  nlohmann::json summary = {
      {"command", "integrate"},
      {"config", options.config},
      {"output", out.string()},
      {"ranks", comm.size()},
      {"customers", result.customers_with_features},
      {"features", result.feature_names},
      {"top_categories", result.top_categories},
      {"baskets", result.baskets_total},
      {"rejected", rejected},
      {"accounting", accounting_json(result)},
      {"joins", joins},
      {"seconds", totals.seconds},
      {"phases", engine::to_json(totals.phases)},
      {"peak_rss_bytes_per_rank", peak_rss_per_rank},
      {"omniseg_version", version_line()},
  };
  // Rank 0's text only: the others contribute nothing and learn the outcome.
  io::write_ordered_text(comm, (out / "summary.json").string(), comm.is_root() ? summary.dump(2) + "\n" : std::string());
  if (comm.is_root()) {
    const nlohmann::json line = {{"command", "integrate"}, {"output", out.string()}, {"ranks", comm.size()},
                                 {"customers", result.customers_with_features},
                                 {"features", result.feature_names.size()}, {"baskets", result.baskets_total},
                                 {"rejected", rejected}, {"identity_conflicts", result.identity_conflict_keys},
                                 {"seconds", totals.seconds}};
    std::cout << line.dump() << std::endl;
  }
}

}  // namespace omniseg::jobs
