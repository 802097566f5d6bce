#include "jobs/run_command.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <utility>

#include "algorithms/features/decimal_text.hpp"
#include "algorithms/linalg/blas.hpp"
#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/phase_timers.hpp"
#include "engine/resources.hpp"
#include "engine/stop_request.hpp"
#include "engine/wall_clock.hpp"
#include "io/fimi_reader.hpp"
#include "io/hdf5.hpp"
#include "io/ordered_text.hpp"
#include "io/reject_log.hpp"
#include "jobs/checkpoints.hpp"
#include "jobs/command_totals.hpp"
#include "jobs/integrate_command.hpp"
#include "jobs/integrate_pipeline.hpp"
#include "jobs/itemset_outputs.hpp"
#include "jobs/segmentation.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {

namespace {

/// Rank 0's clock as ISO 8601 UTC, the same text on every rank (attributes must agree).
std::string utc_now(const engine::Communicator& comm) {
  std::string text;
  if (comm.is_root()) {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char buffer[32];
    text.assign(buffer, std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc));
  }
  comm.broadcast(text);
  return text;
}

/// Where the features a profile line names sit among the feature names (npos when absent).
struct ProfileColumns {
  std::size_t recency = std::string::npos, frequency = std::string::npos, monetary = std::string::npos;
  std::vector<std::pair<std::string, std::size_t>> channels;    ///< share_<channel>
  std::vector<std::pair<std::string, std::size_t>> categories;  ///< cat_<category>
};

ProfileColumns profile_columns(const std::vector<std::string>& names) {
  ProfileColumns columns;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (name == "recency_days") columns.recency = i;
    if (name == "frequency") columns.frequency = i;
    if (name == "monetary") columns.monetary = i;
    if (name.starts_with("share_")) columns.channels.emplace_back(name.substr(6), i);
    if (name.starts_with("cat_")) columns.categories.emplace_back(name.substr(4), i);
  }
  return columns;
}

/// The (up to) three categories with the largest mean spend share in `segment`, largest first.
std::vector<std::string> top_categories(const SegmentProfiles& profiles, const ProfileColumns& columns,
                                        std::uint64_t segment) {
  auto ranked = columns.categories;
  const double* mean = profiles.mean.data() + segment * profiles.features;
  std::stable_sort(ranked.begin(), ranked.end(),
                   [mean](const auto& a, const auto& b) { return mean[a.second] > mean[b.second]; });
  std::vector<std::string> top;
  for (const auto& [name, column] : ranked) {
    if (top.size() == 3 || !(mean[column] > 0)) break;
    top.push_back(name);
  }
  return top;
}

/// "recency 41 d, 4.2 orders, spend 812.50; web 60 % app 30 % store 10 %; top: electronics, books"
std::string profile_line(const SegmentProfiles& profiles, const ProfileColumns& columns, std::uint64_t segment) {
  const double* mean = profiles.mean.data() + segment * profiles.features;
  std::vector<std::string> parts;
  if (columns.recency != std::string::npos) parts.push_back(fmt::format("recency {:.0f} d", mean[columns.recency]));
  if (columns.frequency != std::string::npos) parts.push_back(fmt::format("{:.1f} orders", mean[columns.frequency]));
  if (columns.monetary != std::string::npos) parts.push_back(fmt::format("spend {:.2f}", mean[columns.monetary]));
  std::string line = fmt::format("{}", fmt::join(parts, ", "));
  std::vector<std::string> mix;
  for (const auto& [channel, column] : columns.channels) mix.push_back(fmt::format("{} {:.0f} %", channel, 100 * mean[column]));
  if (!mix.empty()) line += fmt::format("; {}", fmt::join(mix, " "));
  const auto top = top_categories(profiles, columns, segment);
  if (!top.empty()) line += fmt::format("; top: {}", fmt::join(top, ", "));
  return line;
}

std::string segments_csv_text(const engine::Communicator& comm, const features::FeatureRows& features,
                              std::span<const std::int32_t> labels) {
  std::string text;
  if (comm.is_root()) text = "customer_id,segment\n";
  text.reserve(text.size() + features.customer_ids.size() * 16);
  char number[features::max_number_chars + 1];
  for (std::size_t row = 0; row < features.customer_ids.size(); ++row) {
    text.append(number, features::write_decimal(number, features.customer_ids[row]));
    text += ',';
    text += std::to_string(labels[row]);
    text += '\n';
  }
  return text;
}

/// segment, customers, share, the mean of every feature (original units), top categories.
std::string profiles_csv_text(const SegmentProfiles& profiles, const std::vector<std::string>& names,
                              const ProfileColumns& columns) {
  std::string text = "segment,customers,share";
  for (const auto& name : names) io::append_csv_field(text += ',', "mean_" + name);
  text += ",top_categories\n";
  const double total = static_cast<double>(std::accumulate(profiles.sizes.begin(), profiles.sizes.end(), std::uint64_t{0}));
  char number[features::max_number_chars + 1];
  for (std::uint64_t segment = 0; segment < profiles.k; ++segment) {
    text += fmt::format("{},{},", segment, profiles.sizes[segment]);
    text.append(number, features::write_shortest(number, static_cast<double>(profiles.sizes[segment]) / total));
    for (std::uint64_t c = 0; c < profiles.features; ++c) {
      text += ',';
      text.append(number, features::write_shortest(number, profiles.mean[segment * profiles.features + c]));
    }
    io::append_csv_field(text += ',', fmt::format("{}", fmt::join(top_categories(profiles, columns, segment), ";")));
    text += '\n';
  }
  return text;
}

/// The profile columns users ask for first, as datasets of their own: mean recency, frequency and
/// monetary value, the channel mix (k × channels, with the channel names) and the top categories
/// ("a;b;c" per segment). Rank 0's values; every rank calls.
void write_segment_summaries(io::File& file, const SegmentProfiles& profiles, const ProfileColumns& columns) {
  const auto column_means = [&](std::size_t column) {
    std::vector<double> means;
    for (std::uint64_t segment = 0; segment < profiles.k; ++segment) {
      means.push_back(profiles.mean[segment * profiles.features + column]);
    }
    return means;
  };
  const std::pair<const char*, std::size_t> rfm[] = {
      {"/segments/mean_recency_days", columns.recency}, {"/segments/mean_frequency", columns.frequency},
      {"/segments/mean_monetary", columns.monetary}};
  for (const auto& [name, column] : rfm) {
    if (column != std::string::npos) file.write_root_vector(name, column_means(column));
  }
  if (!columns.channels.empty()) {
    std::vector<double> mix;
    std::vector<std::string> channels;
    for (std::uint64_t segment = 0; segment < profiles.k; ++segment) {
      for (const auto& [channel, column] : columns.channels) mix.push_back(profiles.mean[segment * profiles.features + column]);
    }
    for (const auto& [channel, column] : columns.channels) channels.push_back(channel);
    file.write_root_matrix("/segments/channel_mix", mix, columns.channels.size());
    file.write_root_strings("/segments/channels", channels);
  }
  std::vector<std::string> top;
  for (std::uint64_t segment = 0; segment < profiles.k; ++segment) {
    top.push_back(fmt::format("{}", fmt::join(top_categories(profiles, columns, segment), ";")));
  }
  file.write_root_strings("/segments/top_categories", top);
}

struct RunMetadata {
  std::string config_text;
  std::string started;
  std::string finished;
  int ranks = 0;
  std::uint64_t seed = 0;
};

void write_segmentation_h5(const engine::Communicator& comm, const std::filesystem::path& path,
                           const IntegrationResult& integration, const CustomerSegments& segments,
                           const BasketRules& found, const ProfileColumns& columns, const JobConfig& config,
                           const RunMetadata& metadata) {
  const auto& model = segments.pca.model;
  const auto& chosen = segments.kmeans.chosen;
  const auto& result = chosen.result;
  const auto& profiles = segments.profiles;
  const std::uint64_t d = profiles.features, q = config.pca.components;
  io::write_file_atomically(comm, path, [&](io::File& file) {
    file.write_vector_rows("/customers/id", integration.features.customer_ids);
    file.write_vector_rows("/customers/segment", result.labels);
    file.write_matrix_rows("/customers/pca", segments.pca.projection, q);

    const std::vector<std::int64_t> sizes(profiles.sizes.begin(), profiles.sizes.end());
    file.write_root_vector("/segments/size", sizes);
    file.write_root_matrix("/segments/centroid_pca", result.centroids, q);
    file.write_root_matrix("/segments/centroid", profiles.mean, d);
    file.write_root_matrix("/segments/centroid_standardized", profiles.mean_standardized, d);
    file.write_root_strings("/segments/feature_names", integration.feature_names);
    write_segment_summaries(file, profiles, columns);
    file.write_string_attribute("/segments", "centroid",
                                "mean feature values of the segment's customers, original units");
    file.write_string_attribute("/segments", "centroid_standardized",
                                "the same means standardized: (mean - feature mean) / feature standard deviation");

    file.write_root_matrix("/pca/components", model.components, d);
    file.write_root_vector("/pca/explained_variance", model.explained_variance);
    file.write_root_vector("/pca/explained_variance_ratio", model.explained_variance_ratio);
    file.write_root_vector("/pca/singular_values", model.singular_values);
    file.write_root_vector("/pca/mean", model.mean);
    file.write_root_vector("/pca/scale", model.scale);
    file.write_int_attribute("/pca", "components", static_cast<std::int64_t>(q));
    file.write_int_attribute("/pca", "standardized", 1);

    file.write_root_matrix("/kmeans/centroids", result.centroids, q);
    file.write_double_attribute("/kmeans", "inertia", result.inertia);
    file.write_int_attribute("/kmeans", "k", static_cast<std::int64_t>(result.k));
    file.write_int_attribute("/kmeans", "n_iter", static_cast<std::int64_t>(result.iterations));
    file.write_int_attribute("/kmeans", "converged", result.converged ? 1 : 0);
    file.write_int_attribute("/kmeans", "restart", static_cast<std::int64_t>(chosen.restart));
    file.write_int_attribute("/kmeans", "seed", static_cast<std::int64_t>(config.kmeans.seed));
    file.write_string_attribute("/kmeans", "init", config.kmeans.kmeans_parallel_init ? "k-means||" : "k-means++");
    write_kmeans_sweep(file, segments.kmeans);

    write_itemsets(file, comm, found.itemsets, found.min_support, config.itemsets.max_size);
    write_rules(file, comm, found.rules, found.rule_options);

    file.write_string_attribute("/", "config", metadata.config_text);
    file.write_string_attribute("/", "omniseg_version", version_line());
    file.write_int_attribute("/", "ranks", metadata.ranks);
    file.write_int_attribute("/", "seed", static_cast<std::int64_t>(metadata.seed));
    file.write_string_attribute("/", "started", metadata.started);
    file.write_string_attribute("/", "finished", metadata.finished);
  }, {.page_cache_bypass = config.output_page_cache});
}

/// Rank 0 gets the `count` rules of highest lift over all ranks, as display lines, best first.
std::vector<std::string> top_rules(const engine::Communicator& comm, const rules::AssociationRules& found,
                                   std::size_t count) {
  std::vector<std::size_t> order(found.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return found.lift[a] > found.lift[b]; });
  order.resize(std::min(order.size(), count));
  std::string lines;  // "lift\tline\n" per rule
  for (const std::size_t i : order) {
    lines += fmt::format("{}\t{{{}}} -> {{{}}}: confidence {:.2f}, lift {:.2f}, support {:.4f}\n", found.lift[i],
                         fmt::join(found.antecedents[i], " "), fmt::join(found.consequents[i], " "),
                         found.confidence[i], found.lift[i], found.support[i]);
  }
  const auto gathered = comm.gatherv(lines);
  std::vector<std::pair<double, std::string>> candidates;
  std::istringstream stream(std::string(gathered.data.begin(), gathered.data.end()));
  for (std::string line; std::getline(stream, line);) {
    const auto tab = line.find('\t');
    candidates.emplace_back(std::stod(line.substr(0, tab)), line.substr(tab + 1));
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> best;
  for (std::size_t i = 0; i < std::min(count, candidates.size()); ++i) best.push_back(candidates[i].second);
  return best;
}

}  // namespace

void add_run_command(CLI::App& app, Selection& selection) {
  auto options = std::make_shared<RunCommandOptions>();
  auto* run = app.add_subcommand(
      "run", "The segmentation job: integrate the channels, PCA + K-means segments, basket itemsets and rules");
  run->add_option("--config", options->config, "The job configuration (JOB.toml; keys in docs/formats.md)")->required();
  run->add_option("--output", options->output, "Output directory (overrides [output].directory)");
  run->add_option("--checkpoint-dir", options->checkpoint_directory,
                  "Checkpoint directory (overrides [checkpoint].directory): every stage is saved there, and a "
                  "rerun resumes from the last valid checkpoint");
  run->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) {
      run_segmentation_job(comm, *options);
    };
  });
}

void run_segmentation_job(const engine::Communicator& comm, const RunCommandOptions& options) {
  const double start = engine::wall_seconds();
  linalg::use_one_blas_thread();
  RunMetadata metadata;
  metadata.started = utc_now(comm);
  metadata.ranks = comm.size();
  JobConfig config = load_job_config(comm, options.config);
  if (!options.output.empty()) config.output_directory = options.output;
  if (config.output_directory.empty()) {
    throw InputError(fmt::format("{}: no output directory: give --output DIR or [output] directory = \"...\"", options.config));
  }
  metadata.config_text = config.config_text;
  metadata.seed = config.kmeans.seed;
  const std::filesystem::path out(config.output_directory);
  engine::collectively(comm, [&] {
    if (comm.is_root()) std::filesystem::create_directories(out);
  });

  if (!options.checkpoint_directory.empty()) config.checkpoint.directory = options.checkpoint_directory;
  engine::install_stop_signal_handlers();

  engine::PhaseTimers timers(comm);
  JobCheckpoints checkpoints(comm, config, timers);
  const StopCheck stop_check = [&](std::string_view after) {
    const int signal = engine::agreed_stop_signal(comm);
    if (signal == 0) return;
    throw StopRequested(fmt::format(
        "stopped by {} after {}: {}", engine::signal_name(signal), after,
        checkpoints.enabled()
            ? fmt::format("run the same command again to resume from the checkpoints in {}", checkpoints.directory().string())
            : std::string("no checkpoint directory, so a rerun starts over")));
  };

  // Integration is one restartable unit. Its baskets are mined right away, while they are in
  // memory, and the integration checkpoint is written after the itemsets and rules: it then need not
  // hold the baskets (a third of its bytes), and the baskets' memory is free before PCA.
  IntegrationResult integration;
  std::optional<io::TransactionCsr> baskets;
  const auto integrate_now = [&] {
    IntegrationResult fresh = integrate(comm, config, timers);
    auto phase = timers.phase("baskets_parse");
    baskets = io::parse_fimi_text(fresh.baskets.text, {.file_name = "baskets (built in memory)"});
    fresh.baskets.text = {};
    return fresh;
  };
  auto loaded = checkpoints.load_integration();
  const bool integrated_now = !loaded;
  integration = integrated_now ? integrate_now() : std::move(*loaded);
  if (comm.is_root()) log_accounting(integration);
  const BasketSource basket_source = [&] {
    // Only when the itemsets checkpoint is unusable after the integration's loaded: integrate again.
    if (!baskets) static_cast<void>(integrate_now());
    return std::move(*std::exchange(baskets, std::nullopt));
  };
  const BasketRules found = mine_basket_rules(comm, config, basket_source, integration.baskets_total, timers, checkpoints);
  baskets.reset();
  if (integrated_now) checkpoints.save_integration(integration);
  stop_check("integration, itemsets and rules");

  const CustomerSegments segments = segment_customers(comm, config, integration.features,
                                                      integration.feature_names.size(), timers, checkpoints, stop_check);

  const ProfileColumns columns = profile_columns(integration.feature_names);
  {
    auto phase = timers.phase("write");
    metadata.finished = utc_now(comm);
    write_segmentation_h5(comm, out / "segmentation.h5", integration, segments, found, columns, config, metadata);
    io::write_ordered_text(comm, (out / "segments.csv").string(),
                           segments_csv_text(comm, integration.features, segments.kmeans.chosen.result.labels),
                           config.output_page_cache);
    io::write_ordered_text(comm, (out / "segment_profiles.csv").string(),
                           comm.is_root() ? profiles_csv_text(segments.profiles, integration.feature_names, columns)
                                          : std::string());
    io::write_ordered_text(comm, (out / "rules.csv").string(), rules_csv_text(comm, found.rules),
                           config.output_page_cache);
    write_rejects(comm, config, out, std::move(integration.rejects));
  }
  const std::vector<std::string> best_rules = top_rules(comm, found.rules, 5);
  const auto totals = command_totals(comm, timers, start);

  const auto& result = segments.kmeans.chosen.result;
  const auto& profiles = segments.profiles;
  double explained = 0;
  for (const double ratio : segments.pca.model.explained_variance_ratio) explained += ratio;
  std::uint64_t rejected = 0;
  for (const auto& file : integration.accounting) rejected += file.rejected_total();
  spdlog::info("run: phase times across ranks:\n{}", engine::format_table(totals.phases));
  if (comm.is_root()) {
    // The human summary: on stderr with the logs, so stdout keeps its one JSON line.
    std::string text = fmt::format(
        "omniseg run: {} customers in {} segments ({} PCA components explain {:.0f} % of the variance), "
        "{} baskets, {} frequent itemsets, {} rules, {} input rows rejected; {:.1f} s on {} ranks\n",
        integration.customers_with_features, result.k, config.pca.components, 100 * explained,
        integration.baskets_total, found.itemsets.total, found.rules.total, rejected, totals.seconds, comm.size());
    const double total = static_cast<double>(integration.customers_with_features);
    for (std::uint64_t segment = 0; segment < profiles.k; ++segment) {
      text += fmt::format("  segment {}: {:>8} customers ({:4.1f} %): {}\n", segment, profiles.sizes[segment],
                          100 * static_cast<double>(profiles.sizes[segment]) / total,
                          profile_line(profiles, columns, segment));
    }
    if (!best_rules.empty()) text += "  top rules by lift (item ids):\n";
    for (const auto& rule : best_rules) text += "    " + rule + "\n";
    text += fmt::format("  files in {}: segmentation.h5, segments.csv, segment_profiles.csv, rules.csv, rejects.csv, "
                        "summary.json\n", out.string());
    std::cerr << text << std::flush;
  }

  nlohmann::json segments_json = nlohmann::json::array();
  for (std::uint64_t segment = 0; segment < profiles.k; ++segment) {
    segments_json.push_back({{"segment", segment}, {"customers", profiles.sizes[segment]},
                             {"top_categories", top_categories(profiles, columns, segment)}});
  }
  nlohmann::json quality = {{"inertia", result.inertia},
                            {"kmeans_iterations", result.iterations},
                            {"kmeans_converged", result.converged},
                            {"pca_explained_variance_ratio", segments.pca.model.explained_variance_ratio},
                            {"pca_explained_variance_total", explained}};
  if (!segments.kmeans.sweep.empty()) {
    nlohmann::json sweep = nlohmann::json::array();
    for (const auto& point : segments.kmeans.sweep) {
      sweep.push_back({{"k", point.k}, {"inertia", point.inertia}, {"silhouette", point.silhouette},
                       {"calinski_harabasz", point.calinski_harabasz}});
    }
    quality["k_sweep"] = sweep;
  }
  const auto peak_rss_per_rank = comm.allgather(engine::peak_resident_bytes());
  const nlohmann::json summary = {
      {"command", "run"},
      {"config", options.config},
      {"output", out.string()},
      {"ranks", comm.size()},
      {"started", metadata.started},
      {"finished", metadata.finished},
      {"customers", integration.customers_with_features},
      {"features", integration.feature_names},
      {"segments", segments_json},
      {"baskets", integration.baskets_total},
      {"itemsets", found.itemsets.total},
      {"rules", found.rules.total},
      {"min_support_baskets", found.min_support},
      {"rejected", rejected},
      {"accounting", accounting_json(integration)},
      {"quality", quality},
      {"seconds", totals.seconds},
      {"phases", engine::to_json(totals.phases)},
      {"peak_rss_bytes_per_rank", peak_rss_per_rank},
      {"checkpoints", {{"directory", checkpoints.directory().string()},
                       {"resumed", checkpoints.loaded()},
                       {"written", checkpoints.written()}}},
      {"omniseg_version", version_line()},
  };
  io::write_ordered_text(comm, (out / "summary.json").string(), comm.is_root() ? summary.dump(2) + "\n" : std::string());
  if (comm.is_root()) {
    const nlohmann::json line = {{"command", "run"}, {"output", out.string()}, {"ranks", comm.size()},
                                 {"customers", integration.customers_with_features}, {"segments", result.k},
                                 {"itemsets", found.itemsets.total}, {"rules", found.rules.total},
                                 {"rejected", rejected}, {"seconds", totals.seconds}};
    std::cout << line.dump() << std::endl;
  }
}

}  // namespace omniseg::jobs
