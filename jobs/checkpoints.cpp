#include "jobs/checkpoints.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include <sys/stat.h>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/serialized.hpp"
#include "engine/wall_clock.hpp"
#include "io/verified_datasets.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view format_name = "omniseg checkpoint 1";
constexpr std::string_view progress_prefix = "kmeans-progress-";

// ---- the fingerprint ------------------------------------------------------------------------------

std::string input_line(std::string_view role, const CsvInputConfig& input) {
  struct stat status {};
  if (::stat(input.path.c_str(), &status) != 0) status = {};  // load_job_config checked it exists
  std::string columns;
  for (const auto& [column_role, name] : input.columns) columns += fmt::format(" {}={}", column_role, name);
  return fmt::format("{} = {} ({} bytes, modified {}.{:09}) columns{}\n", role, input.path, status.st_size,
                     status.st_mtim.tv_sec, status.st_mtim.tv_nsec, columns);
}

// ---- integration summary <-> JSON -----------------------------------------------------------------

std::string integration_summary_json(const IntegrationResult& integration) {
  nlohmann::json accounting = nlohmann::json::array();
  for (const auto& file : integration.accounting) {
    accounting.push_back({{"file", file.file}, {"read", file.read}, {"joined", file.joined},
                          {"anonymous", file.anonymous}, {"rejected", file.rejected}});
  }
  nlohmann::json joins = nlohmann::json::array();
  for (const auto& join : integration.joins) {
    joins.push_back({{"name", join.name}, {"strategy", join.strategy}, {"heavy_keys", join.heavy_keys},
                     {"matched_rows", join.matched_rows}, {"keys_sent", join.keys_sent},
                     {"bytes_moved", join.bytes_moved}});
  }
  return nlohmann::json{{"accounting", accounting},
                        {"joins", joins},
                        {"identity_conflict_keys", integration.identity_conflict_keys},
                        {"customers_with_features", integration.customers_with_features},
                        {"baskets_total", integration.baskets_total},
                        {"top_categories", integration.top_categories}}
      .dump();
}

void read_integration_summary(const std::string& text, IntegrationResult& integration) {
  const auto json = nlohmann::json::parse(text);
  for (const auto& file : json.at("accounting")) {
    integration.accounting.push_back({.file = file.at("file"), .read = file.at("read"), .joined = file.at("joined"),
                                      .anonymous = file.at("anonymous"),
                                      .rejected = file.at("rejected").get<std::map<std::string, std::uint64_t>>()});
  }
  for (const auto& join : json.at("joins")) {
    integration.joins.push_back({.name = join.at("name"), .strategy = join.at("strategy"),
                                 .heavy_keys = join.at("heavy_keys"), .matched_rows = join.at("matched_rows"),
                                 .keys_sent = join.at("keys_sent"), .bytes_moved = join.at("bytes_moved")});
  }
  integration.identity_conflict_keys = json.at("identity_conflict_keys");
  integration.customers_with_features = json.at("customers_with_features");
  integration.baskets_total = json.at("baskets_total");
  integration.top_categories = json.at("top_categories").get<std::vector<std::string>>();
}

// ---- rejects <-> rows of six numbers --------------------------------------------------------------

constexpr std::uint64_t reject_columns = 6;

std::vector<std::uint64_t> reject_rows(const std::vector<io::RejectRecord>& rejects) {
  std::vector<std::uint64_t> rows;
  rows.reserve(rejects.size() * reject_columns);
  for (const auto& reject : rejects) {
    rows.insert(rows.end(), {reject.file_index, static_cast<std::uint64_t>(reject.reason), reject.column,
                             reject.line_number, reject.file_offset, reject.length});
  }
  return rows;
}

std::vector<io::RejectRecord> rejects_from_rows(const std::vector<std::uint64_t>& rows) {
  std::vector<io::RejectRecord> rejects;
  rejects.reserve(rows.size() / reject_columns);
  for (std::size_t i = 0; i + reject_columns <= rows.size(); i += reject_columns) {
    rejects.push_back({.file_index = static_cast<std::uint32_t>(rows[i]),
                       .reason = static_cast<io::RejectReason>(rows[i + 1]),
                       .column = static_cast<std::uint16_t>(rows[i + 2]),
                       .line_number = rows[i + 3],
                       .file_offset = rows[i + 4],
                       .length = rows[i + 5]});
  }
  return rejects;
}

// ---- a K-means fit <-> datasets under one group -----------------------------------------------------

void write_fit(io::File& file, const std::string& group, const KmeansFit& fit) {
  const auto& result = fit.result;
  const std::vector<std::uint64_t> counts{result.k, result.iterations, result.converged ? 1u : 0u,
                                          result.hamerly_iterations, result.reseeded_clusters, fit.restart,
                                          fit.quality.silhouette_sample, result.yinyang_iterations};
  const std::vector<double> reals{result.inertia, fit.quality.calinski_harabasz, fit.quality.silhouette,
                                  result.iteration_seconds};
  io::write_verified_root(file, group + "/counts", counts);
  io::write_verified_root(file, group + "/reals", reals);
  io::write_verified_root(file, group + "/centroids", result.centroids);
  io::write_verified_root(file, group + "/sizes", result.sizes);
  io::write_verified_rows(file, group + "/labels", result.labels, 1);
}

KmeansFit read_fit(const io::File& file, const std::string& group, engine::RowRange customers) {
  const auto counts = io::read_verified_whole<std::uint64_t>(file, group + "/counts");
  const auto reals = io::read_verified_whole<double>(file, group + "/reals");
  KmeansFit fit;
  auto& result = fit.result;
  result.k = counts.at(0);
  result.iterations = counts.at(1);
  result.converged = counts.at(2) != 0;
  result.hamerly_iterations = counts.at(3);
  result.reseeded_clusters = counts.at(4);
  fit.restart = counts.at(5);
  fit.quality.silhouette_sample = counts.at(6);
  result.yinyang_iterations = counts.at(7);
  result.inertia = reals.at(0);
  fit.quality.calinski_harabasz = reals.at(1);
  fit.quality.silhouette = reals.at(2);
  result.iteration_seconds = reals.at(3);
  result.centroids = io::read_verified_whole<double>(file, group + "/centroids");
  result.sizes = io::read_verified_whole<std::uint64_t>(file, group + "/sizes");
  result.labels = io::read_verified_rows<std::int32_t>(file, group + "/labels", customers);
  return fit;
}

void write_sweep(io::File& file, const std::vector<kmeans::SweepPoint>& sweep,
                 const std::vector<std::uint64_t>& iterations) {
  std::vector<std::uint64_t> ks;
  std::vector<double> scores;  // inertia, Calinski-Harabasz, silhouette per point
  for (const auto& point : sweep) {
    ks.push_back(point.k);
    scores.insert(scores.end(), {point.inertia, point.calinski_harabasz, point.silhouette});
  }
  io::write_verified_root(file, "/sweep/k", ks);
  io::write_verified_root(file, "/sweep/scores", scores, 3);
  io::write_verified_root(file, "/sweep/iterations", iterations);
}

void read_sweep(const io::File& file, std::vector<kmeans::SweepPoint>& sweep, std::vector<std::uint64_t>& iterations) {
  const auto ks = io::read_verified_whole<std::uint64_t>(file, "/sweep/k");
  const auto scores = io::read_verified_whole<double>(file, "/sweep/scores");
  iterations = io::read_verified_whole<std::uint64_t>(file, "/sweep/iterations");
  for (std::size_t i = 0; i < ks.size(); ++i) {
    sweep.push_back({.k = ks[i], .inertia = scores.at(3 * i), .calinski_harabasz = scores.at(3 * i + 1),
                     .silhouette = scores.at(3 * i + 2)});
  }
}

/// 0 or 1 fits under `group` (an optional KmeansFit).
void write_optional_fit(io::File& file, const std::string& group, const std::optional<KmeansFit>& fit) {
  const std::vector<std::uint64_t> present{fit ? 1u : 0u};
  io::write_verified_root(file, group + "/present", present);
  if (fit) write_fit(file, group, *fit);
}

std::optional<KmeansFit> read_optional_fit(const io::File& file, const std::string& group, engine::RowRange customers) {
  if (io::read_verified_whole<std::uint64_t>(file, group + "/present").at(0) == 0) return std::nullopt;
  return read_fit(file, group, customers);
}

/// The stages form a small tree: integration feeds two chains, the baskets' (itemsets → rules) and
/// the customers' (PCA → K-means). A stage's fingerprint holds the job's fingerprint lines of the
/// integration (version, inputs, features) and of the stages on its own chain up to itself, so that
/// changing the rule thresholds keeps PCA and K-means, and changing k keeps the itemsets.
struct StagePlace {
  std::string_view stage;
  JobCheckpoints::Chain chain;
  int position;  ///< along its chain; the integration is 0
};
constexpr std::array<StagePlace, 6> stage_places{{
    {"integrate", JobCheckpoints::Chain::integration, 0},
    {"itemsets", JobCheckpoints::Chain::baskets, 1},
    {"rules", JobCheckpoints::Chain::baskets, 2},
    {"pca", JobCheckpoints::Chain::customers, 1},
    {"kmeans", JobCheckpoints::Chain::customers, 2},
    {"kmeans progress", JobCheckpoints::Chain::customers, 2},
}};

const StagePlace& place_of(std::string_view stage) {
  for (const auto& place : stage_places) {
    if (place.stage == stage) return place;
  }
  throw std::logic_error("checkpoints: unknown stage " + std::string(stage));
}

std::string stage_fingerprint(const std::string& job_fingerprint, std::string_view stage) {
  const StagePlace& target = place_of(stage);
  std::istringstream lines(job_fingerprint);
  std::string kept;
  for (std::string line; std::getline(lines, line);) {
    const StagePlace* owner = &stage_places[0];  // inputs, features and the version: integration
    for (const auto& place : stage_places) {
      if (line.starts_with(fmt::format("{} = ", place.stage))) owner = &place;
    }
    const bool upstream = owner->position == 0 || (owner->chain == target.chain && owner->position <= target.position);
    if (upstream) kept += line + "\n";
  }
  return kept;
}

/// The first line where two fingerprints differ, for the message.
std::string first_difference(const std::string& stored, const std::string& current) {
  std::istringstream a(stored), b(current);
  std::string line_a, line_b;
  while (true) {
    const bool more_a = static_cast<bool>(std::getline(a, line_a));
    const bool more_b = static_cast<bool>(std::getline(b, line_b));
    if (!more_a && !more_b) return "?";
    if (!more_a || !more_b || line_a != line_b) {
      return fmt::format("it has \"{}\", this job \"{}\"", more_a ? line_a : "", more_b ? line_b : "");
    }
  }
}

/// All ranks: whether `path` exists (rank 0 looks).
bool exists_on_root(const engine::Communicator& comm, const fs::path& path) {
  int found = comm.is_root() && fs::exists(path) ? 1 : 0;
  comm.broadcast(found);
  return found != 0;
}

}  // namespace

std::string job_fingerprint(const engine::Communicator& comm, const JobConfig& config) {
  std::string text;
  if (comm.is_root()) {
    text = fmt::format("omniseg = {}\n", version_line());
    text += input_line("input.customers", config.customers);
    text += input_line("input.identity", config.identity);
    text += input_line("input.items", config.items);
    for (const auto& order : config.orders) text += input_line("input.orders." + order.channel, order);
    const auto& features = config.features;
    text += fmt::format("features = as_of {} top_categories {}\n", features.as_of_text, features.top_categories);
    text += fmt::format("pca = components {}\n", config.pca.components);
    const auto& kmeans = config.kmeans;
    text += fmt::format("kmeans = k {}:{} init {} max_iter {} tol {:.17g} n_init {} seed {}\n", kmeans.k_first,
                        kmeans.k_last, kmeans.kmeans_parallel_init ? "k-means||" : "k-means++", kmeans.max_iterations,
                        kmeans.tolerance, kmeans.restarts, kmeans.seed);
    text += fmt::format("itemsets = min_support {:.17g} max_size {}\n", config.itemsets.min_support,
                        config.itemsets.max_size);
    text += fmt::format("rules = min_confidence {:.17g} min_lift {:.17g} top {}\n", config.rules.min_confidence,
                        config.rules.min_lift, config.rules.top);
  }
  comm.broadcast(text);
  return text;
}

bool JobCheckpoints::resuming(Chain chain) const {
  return resuming_[static_cast<std::size_t>(Chain::integration)] && resuming_[static_cast<std::size_t>(chain)];
}

void JobCheckpoints::stop_resuming(Chain chain) { resuming_[static_cast<std::size_t>(chain)] = false; }

JobCheckpoints::JobCheckpoints(const engine::Communicator& comm, const JobConfig& config, engine::PhaseTimers& timers)
    : comm_(&comm),
      timers_(&timers),
      directory_(config.checkpoint.directory),
      kmeans_interval_(config.checkpoint.kmeans_interval),
      file_options_{.page_cache_bypass = config.checkpoint.page_cache} {
  if (!enabled()) {
    spdlog::info("checkpoints: none (no [checkpoint] directory and no --checkpoint-dir): a stopped job starts over");
    return;
  }
  fingerprint_ = job_fingerprint(comm, config);
  engine::collectively(comm, [&] {
    if (comm.is_root()) fs::create_directories(directory_);
  });
  spdlog::info("checkpoints: in {}, K-means progress every {} iterations, large datasets written {}", directory_.string(),
               kmeans_interval_,
               file_options_.page_cache_bypass.enabled ? "around the page cache" : "through the page cache");
}

template <class Load>
auto JobCheckpoints::attempt(std::string_view stage, const fs::path& path, Load&& load, bool ends_prefix)
    -> std::optional<decltype(load(std::declval<const io::File&>()))> {
  if (!enabled() || !resuming(place_of(stage).chain)) return std::nullopt;
  if (!exists_on_root(*comm_, path)) {
    if (ends_prefix) stop_resuming(place_of(stage).chain);
    return std::nullopt;
  }
  auto phase = timers_->phase("checkpoint read");
  try {
    // Opened outside the checked body: closing is collective, so the File must outlive the
    // agreement on a failure in the body.
    io::File file = engine::collectively(*comm_, [&] { return io::File::open_read(*comm_, path); });
    auto loaded = engine::collectively(*comm_, [&] {
      if (!file.is_complete()) throw Error("it was not written completely");
      const std::string format = file.read_string_attribute("/", "format");
      if (format != format_name) throw Error(fmt::format("its format is \"{}\", not \"{}\"", format, format_name));
      const std::string stored_stage = file.read_string_attribute("/", "stage");
      if (stored_stage != stage) throw Error(fmt::format("it holds stage \"{}\", not \"{}\"", stored_stage, stage));
      const std::string fingerprint = file.read_string_attribute("/", "fingerprint");
      const std::string expected = stage_fingerprint(fingerprint_, stage);
      if (fingerprint != expected) {
        throw Error(fmt::format("it was written for other settings or inputs: {}", first_difference(fingerprint, expected)));
      }
      return load(file);
    });
    file.close();
    spdlog::info("checkpoints: resumed {} from {}", stage, path.string());
    loaded_.emplace_back(stage);
    return loaded;
  } catch (const CollectiveError& e) {
    spdlog::warn("checkpoints: cannot use {}: {}; {}", path.string(), e.what(),
                 ends_prefix ? fmt::format("computing {} again", stage) : std::string("trying an older one"));
    if (ends_prefix) stop_resuming(place_of(stage).chain);
    return std::nullopt;
  }
}

void JobCheckpoints::save(std::string_view stage, const fs::path& path, std::uint64_t iteration,
                          const std::function<void(io::File&)>& write) {
  auto phase = timers_->phase("checkpoint write");
  const double start = engine::wall_seconds();
  io::write_file_atomically(*comm_, path, [&](io::File& file) {
    write(file);
    file.write_string_attribute("/", "format", format_name);
    file.write_string_attribute("/", "stage", stage);
    file.write_string_attribute("/", "fingerprint", stage_fingerprint(fingerprint_, stage));
    file.write_string_attribute("/", "omniseg_version", version_line());
    file.write_int_attribute("/", "ranks", comm_->size());
    file.write_int_attribute("/", "iteration", static_cast<std::int64_t>(iteration));
  }, file_options_);
  written_.emplace_back(stage);
  std::error_code ignored;
  const double megabytes = comm_->is_root() ? static_cast<double>(fs::file_size(path, ignored)) / 1e6 : 0.0;
  spdlog::info("checkpoints: wrote {} ({:.1f} MB in {:.3f} s)", path.string(), megabytes, engine::wall_seconds() - start);
}

engine::RowRange JobCheckpoints::customer_rows_for(const std::vector<std::uint64_t>& rows_per_rank) const {
  if (rows_per_rank.size() == static_cast<std::size_t>(comm_->size())) {
    // The same number of ranks: the split of the run that wrote it, so that a resumed run holds
    // the rows an uninterrupted one would (every stage gives the same bits for any split anyway).
    std::uint64_t begin = 0;
    for (int r = 0; r < comm_->rank(); ++r) begin += rows_per_rank[static_cast<std::size_t>(r)];
    return {begin, begin + rows_per_rank[static_cast<std::size_t>(comm_->rank())]};
  }
  std::uint64_t total = 0;
  for (const auto rows : rows_per_rank) total += rows;
  return engine::BlockDistribution(total, comm_->size()).range(comm_->rank());
}

// ---- integration ------------------------------------------------------------------------------------

std::optional<IntegrationResult> JobCheckpoints::load_integration() {
  return attempt("integrate", directory_ / "1-integrate.h5", [&](const io::File& file) {
    IntegrationResult integration;
    read_integration_summary(io::read_verified_strings(file, "/summary").at(0), integration);
    customer_rows_ = customer_rows_for(io::read_verified_whole<std::uint64_t>(file, "/customers/rows_per_rank"));
    integration.feature_names = io::read_verified_strings(file, "/customers/feature_names");
    integration.features.customer_ids = io::read_verified_rows<std::int64_t>(file, "/customers/id", customer_rows_);
    integration.features.matrix = io::read_verified_rows<double>(file, "/customers/features", customer_rows_);
    const std::uint64_t rejects = file.dataset_info("/rejects").rows();
    integration.rejects = rejects_from_rows(io::read_verified_rows<std::uint64_t>(
        file, "/rejects", engine::BlockDistribution(rejects, comm_->size()).range(comm_->rank())));
    return integration;
  });
}

void JobCheckpoints::save_integration(const IntegrationResult& integration) {
  const std::uint64_t local = integration.features.customer_ids.size();
  const std::uint64_t first = comm_->exclusive_prefix_sum(local);
  customer_rows_ = {first, first + local};
  stop_resuming(Chain::integration);
  if (!enabled()) return;
  const std::vector<std::uint64_t> rows_per_rank = comm_->allgather(local);
  save("integrate", directory_ / "1-integrate.h5", 0, [&](io::File& file) {
    const std::vector<std::string> summary{integration_summary_json(integration)};
    io::write_verified_root_strings(file, "/summary", summary);
    io::write_verified_root(file, "/customers/rows_per_rank", rows_per_rank);
    io::write_verified_root_strings(file, "/customers/feature_names", integration.feature_names);
    io::write_verified_rows(file, "/customers/id", integration.features.customer_ids, 1);
    io::write_verified_rows(file, "/customers/features", integration.features.matrix,
                            std::max<std::uint64_t>(1, integration.feature_names.size()));
    io::write_verified_rows(file, "/rejects", reject_rows(integration.rejects), reject_columns);
  });
}

// ---- PCA ----------------------------------------------------------------------------------------------

std::optional<pca::PcaModel> JobCheckpoints::load_pca() {
  return attempt("pca", directory_ / "4-pca.h5", [&](const io::File& file) {
    pca::PcaModel model;
    const auto shape = io::read_verified_whole<std::uint64_t>(file, "/pca/shape");
    model.rows = shape.at(0);
    model.columns = shape.at(1);
    model.components = io::read_verified_whole<double>(file, "/pca/components");
    model.singular_values = io::read_verified_whole<double>(file, "/pca/singular_values");
    model.explained_variance = io::read_verified_whole<double>(file, "/pca/explained_variance");
    model.explained_variance_ratio = io::read_verified_whole<double>(file, "/pca/explained_variance_ratio");
    model.total_variance = io::read_verified_whole<double>(file, "/pca/total_variance").at(0);
    model.all_singular_values = io::read_verified_whole<double>(file, "/pca/all_singular_values");
    model.mean = io::read_verified_whole<double>(file, "/pca/mean");
    model.scale = io::read_verified_whole<double>(file, "/pca/scale");
    return model;
  });
}

void JobCheckpoints::save_pca(const pca::PcaModel& model) {
  stop_resuming(Chain::customers);
  if (!enabled()) return;
  save("pca", directory_ / "4-pca.h5", 0, [&](io::File& file) {
    const std::vector<std::uint64_t> shape{model.rows, model.columns};
    const std::vector<double> total{model.total_variance};
    io::write_verified_root(file, "/pca/shape", shape);
    io::write_verified_root(file, "/pca/components", model.components, model.columns);
    io::write_verified_root(file, "/pca/singular_values", model.singular_values);
    io::write_verified_root(file, "/pca/explained_variance", model.explained_variance);
    io::write_verified_root(file, "/pca/explained_variance_ratio", model.explained_variance_ratio);
    io::write_verified_root(file, "/pca/total_variance", total);
    io::write_verified_root(file, "/pca/all_singular_values", model.all_singular_values);
    io::write_verified_root(file, "/pca/mean", model.mean);
    io::write_verified_root(file, "/pca/scale", model.scale);
  });
}

// ---- K-means --------------------------------------------------------------------------------------------

std::vector<fs::path> JobCheckpoints::progress_files_on_root() const {
  std::vector<fs::path> paths;
  if (!comm_->is_root() || !fs::is_directory(directory_)) return paths;
  for (const auto& entry : fs::directory_iterator(directory_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(progress_prefix) && name.ends_with(".h5")) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());  // zero-padded numbers: oldest first
  return paths;
}

std::vector<fs::path> JobCheckpoints::progress_files() const {
  std::vector<std::string> names;
  for (const auto& path : progress_files_on_root()) names.push_back(path.string());
  engine::broadcast_serialized(*comm_, names);
  return {names.begin(), names.end()};
}

std::optional<KmeansResumePoint> JobCheckpoints::load_kmeans_progress() {
  if (!enabled() || !resuming(Chain::customers)) return std::nullopt;
  const auto files = progress_files();
  for (auto file = files.rbegin(); file != files.rend(); ++file) {
    auto point = attempt("kmeans progress", *file, [&](const io::File& in) {
      KmeansResumePoint resume;
      auto& state = resume.state;
      const auto counts = io::read_verified_whole<std::uint64_t>(in, "/state/counts");
      state.k = counts.at(0);
      state.restart = counts.at(1);
      state.total_iterations = counts.at(2);
      state.best = read_optional_fit(in, "/best", customer_rows_);
      state.chosen = read_optional_fit(in, "/chosen", customer_rows_);
      read_sweep(in, state.sweep, state.sweep_iterations);
      auto& lloyd = resume.lloyd;
      const auto lloyd_counts = io::read_verified_whole<std::uint64_t>(in, "/lloyd/counts");
      lloyd.iterations = lloyd_counts.at(0);
      lloyd.hamerly_iterations = lloyd_counts.at(1);
      lloyd.reseeded_clusters = lloyd_counts.at(2);
      lloyd.changed_labels = lloyd_counts.at(3);
      lloyd.bounds_valid = lloyd_counts.at(4) != 0;
      lloyd.yinyang_iterations = lloyd_counts.at(5);
      if (lloyd_counts.at(6) != 0) {
        lloyd.centre_groups = io::read_verified_whole<std::int32_t>(in, "/lloyd/centre_groups");
      }
      lloyd.centres = io::read_verified_whole<double>(in, "/lloyd/centres");
      lloyd.previous_centres = io::read_verified_whole<double>(in, "/lloyd/previous_centres");
      lloyd.labels = io::read_verified_rows<std::int32_t>(in, "/lloyd/labels", customer_rows_);
      if (lloyd.bounds_valid) {
        lloyd.upper_bounds = io::read_verified_rows<double>(in, "/lloyd/upper_bounds", customer_rows_);
        lloyd.lower_bounds = io::read_verified_rows<double>(in, "/lloyd/lower_bounds", customer_rows_);
      }
      return resume;
    }, false);
    if (point) return point;
  }
  stop_resuming(Chain::customers);
  return std::nullopt;
}

void JobCheckpoints::save_kmeans_progress(const KmeansFitState& state, const kmeans::LloydSnapshot& lloyd) {
  if (!enabled()) return;
  const std::uint64_t iteration = state.total_iterations + lloyd.iterations;
  save("kmeans progress", directory_ / fmt::format("{}{:09}.h5", progress_prefix, iteration), iteration,
       [&](io::File& file) {
         const std::vector<std::uint64_t> counts{state.k, state.restart, state.total_iterations};
         io::write_verified_root(file, "/state/counts", counts);
         write_optional_fit(file, "/best", state.best);
         write_optional_fit(file, "/chosen", state.chosen);
         write_sweep(file, state.sweep, state.sweep_iterations);
         const std::vector<std::uint64_t> lloyd_counts{lloyd.iterations, lloyd.hamerly_iterations,
                                                       lloyd.reseeded_clusters, lloyd.changed_labels,
                                                       lloyd.bounds_valid ? 1u : 0u, lloyd.yinyang_iterations,
                                                       lloyd.centre_groups.empty() ? 0u : 1u};
         const std::uint64_t d = lloyd.centres.size() / state.k;
         io::write_verified_root(file, "/lloyd/counts", lloyd_counts);
         io::write_verified_root(file, "/lloyd/centres", lloyd.centres, d);
         io::write_verified_root(file, "/lloyd/previous_centres", lloyd.previous_centres, d);
         io::write_verified_rows(file, "/lloyd/labels", lloyd.labels, 1);
         if (!lloyd.centre_groups.empty()) io::write_verified_root(file, "/lloyd/centre_groups", lloyd.centre_groups);
         if (lloyd.bounds_valid) {
           // Yinyang keeps one lower bound per centre group and row: a rows × groups dataset.
           io::write_verified_rows(file, "/lloyd/upper_bounds", lloyd.upper_bounds, 1);
           io::write_verified_rows(file, "/lloyd/lower_bounds", lloyd.lower_bounds,
                                   kmeans::lower_bounds_per_row(lloyd));
         }
       });
  // The newest two are kept: if the newest is damaged, the one before it still resumes.
  engine::collectively(*comm_, [&] {
    if (!comm_->is_root()) return;
    auto files = progress_files_on_root();
    while (files.size() > 2) {
      fs::remove(files.front());
      files.erase(files.begin());
    }
  });
}

std::optional<KmeansFitResult> JobCheckpoints::load_kmeans() {
  return attempt("kmeans", directory_ / "5-kmeans.h5", [&](const io::File& file) {
    KmeansFitResult fit;
    fit.chosen = read_fit(file, "/chosen", customer_rows_);
    read_sweep(file, fit.sweep, fit.sweep_iterations);
    fit.total_iterations = io::read_verified_whole<std::uint64_t>(file, "/total_iterations").at(0);
    return fit;
  }, false);  // without it, the progress files may still resume the fit
}

void JobCheckpoints::save_kmeans(const KmeansFitResult& fit) {
  stop_resuming(Chain::customers);
  if (!enabled()) return;
  save("kmeans", directory_ / "5-kmeans.h5", fit.total_iterations, [&](io::File& file) {
    write_fit(file, "/chosen", fit.chosen);
    write_sweep(file, fit.sweep, fit.sweep_iterations);
    const std::vector<std::uint64_t> total{fit.total_iterations};
    io::write_verified_root(file, "/total_iterations", total);
  });
  engine::collectively(*comm_, [&] {
    if (comm_->is_root()) {
      for (const auto& path : progress_files_on_root()) fs::remove(path);
    }
  });
}

// ---- itemsets and rules -----------------------------------------------------------------------------------

std::optional<fim::FrequentItemsets> JobCheckpoints::load_itemsets() {
  return attempt("itemsets", directory_ / "2-itemsets.h5", [&](const io::File& file) {
    fim::FrequentItemsets itemsets;
    const auto counts = io::read_verified_whole<std::uint64_t>(file, "/counts");
    itemsets.total = counts.at(0);
    itemsets.transactions = counts.at(1);
    itemsets.frequent_items = counts.at(2);
    itemsets.groups = counts.at(3);
    itemsets.shard_items_sent = counts.at(4);
    itemsets.by_size = io::read_verified_whole<std::uint64_t>(file, "/by_size");
    const auto rows = engine::BlockDistribution(itemsets.total, comm_->size()).range(comm_->rank());
    itemsets.first_index = rows.begin;
    auto sets = io::read_verified_ragged(file, "/itemsets", rows);
    itemsets.local.sets.offsets = std::move(sets.offsets);
    itemsets.local.sets.items = std::move(sets.items);
    itemsets.local.support = io::read_verified_rows<std::uint64_t>(file, "/support", rows);
    return itemsets;
  });
}

void JobCheckpoints::save_itemsets(const fim::FrequentItemsets& itemsets) {
  stop_resuming(Chain::baskets);
  if (!enabled()) return;
  save("itemsets", directory_ / "2-itemsets.h5", 0, [&](io::File& file) {
    const std::vector<std::uint64_t> counts{itemsets.total, itemsets.transactions, itemsets.frequent_items,
                                            itemsets.groups, itemsets.shard_items_sent};
    io::write_verified_root(file, "/counts", counts);
    io::write_verified_root(file, "/by_size", itemsets.by_size);
    io::write_verified_ragged(file, "/itemsets", itemsets.local.sets.offsets, itemsets.local.sets.items);
    io::write_verified_rows(file, "/support", itemsets.local.support, 1);
  });
}

std::optional<rules::AssociationRules> JobCheckpoints::load_rules() {
  return attempt("rules", directory_ / "3-rules.h5", [&](const io::File& file) {
    rules::AssociationRules found;
    const auto counts = io::read_verified_whole<std::uint64_t>(file, "/counts");
    found.total = counts.at(0);
    found.candidates = counts.at(1);
    found.confident = counts.at(2);
    found.lookup_rounds = counts.at(3);
    const auto rows = engine::BlockDistribution(found.total, comm_->size()).range(comm_->rank());
    found.first_index = rows.begin;
    auto antecedents = io::read_verified_ragged(file, "/antecedents", rows);
    found.antecedents = {std::move(antecedents.offsets), std::move(antecedents.items)};
    auto consequents = io::read_verified_ragged(file, "/consequents", rows);
    found.consequents = {std::move(consequents.offsets), std::move(consequents.items)};
    found.support_count = io::read_verified_rows<std::uint64_t>(file, "/support_count", rows);
    found.support = io::read_verified_rows<double>(file, "/support", rows);
    found.confidence = io::read_verified_rows<double>(file, "/confidence", rows);
    found.lift = io::read_verified_rows<double>(file, "/lift", rows);
    found.leverage = io::read_verified_rows<double>(file, "/leverage", rows);
    return found;
  });
}

void JobCheckpoints::save_rules(const rules::AssociationRules& found) {
  stop_resuming(Chain::baskets);
  if (!enabled()) return;
  save("rules", directory_ / "3-rules.h5", 0, [&](io::File& file) {
    const std::vector<std::uint64_t> counts{found.total, found.candidates, found.confident, found.lookup_rounds};
    io::write_verified_root(file, "/counts", counts);
    io::write_verified_ragged(file, "/antecedents", found.antecedents.offsets, found.antecedents.items);
    io::write_verified_ragged(file, "/consequents", found.consequents.offsets, found.consequents.items);
    io::write_verified_rows(file, "/support_count", found.support_count, 1);
    io::write_verified_rows(file, "/support", found.support, 1);
    io::write_verified_rows(file, "/confidence", found.confidence, 1);
    io::write_verified_rows(file, "/lift", found.lift, 1);
    io::write_verified_rows(file, "/leverage", found.leverage, 1);
  });
}

}  // namespace omniseg::jobs
