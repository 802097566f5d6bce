// jobs/job_config.hpp — the job configuration (JOB.toml): the integration's inputs and features,
// and the segmentation's PCA, K-means, itemsets and rules.
//
// Owns: reading JOB.toml into a named aggregate, with every key checked: an unknown key, a value of
// the wrong type, a missing required key or a file that does not exist is an InputError naming the
// key (or file). Rank 0 reads the file and broadcasts its text; every rank parses the same text, so
// every rank holds the same configuration (its hash is compared across ranks). Relative paths are
// resolved against the folder of the config file. Key reference: docs/formats.md, "Job configuration".
// Does not own: what the stages do with the values (jobs/integrate_pipeline.cpp,
// jobs/segmentation.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/communicator.hpp"
#include "io/range_writer.hpp"

namespace omniseg::jobs {

/// (role, column name in the file): how a user's export maps to the columns omniseg needs.
using ColumnMapping = std::vector<std::pair<std::string, std::string>>;

/// One CSV input: where it is and how its header maps to roles (in the order of the table's roles).
struct CsvInputConfig {
  std::string path;          ///< resolved against the config file's folder
  std::string display_name;  ///< as written in the config (names the file in accounting and rejects)
  ColumnMapping columns;
  /// Optional roles the config did not name: used only when the file has a column of that name.
  std::vector<std::string> optional_roles_defaulted;
};

/// An order-line export of one sales channel.
struct OrderInputConfig : CsvInputConfig {
  std::string channel;  ///< matches the identity map's channel column (e.g. web, app, store)
};

struct FeatureConfig {
  /// Recency and tenure are measured back from midnight (UTC) of this day; days since 1970-01-01.
  std::int32_t as_of_days = 0;
  std::string as_of_text;
  /// Spend-share features for the C categories with the largest total spend.
  int top_categories = 8;
};

struct EngineConfig {
  /// Send-buffer bytes a rank may hold during a shuffle; 0 = automatic (engine default).
  std::uint64_t memory_budget_bytes = 0;
  /// A right join side smaller than this over all ranks is broadcast instead of shuffled.
  std::uint64_t broadcast_threshold_bytes = std::uint64_t{64} << 20;
  /// A join key holding more than this share of the rows is split over several ranks; 0 = automatic.
  double heavy_key_share = 0;
};

struct PcaConfig {
  /// Principal components the customers are projected on (<= the number of features).
  std::uint64_t components = 6;
};

struct KmeansConfig {
  std::uint64_t k_first = 6;  ///< k, or the first k of a sweep
  std::uint64_t k_last = 6;   ///< == k_first unless a sweep "A:B" (silhouette picks k)
  bool kmeans_parallel_init = false;  ///< k-means|| instead of k-means++
  std::uint64_t max_iterations = 300;
  double tolerance = 1e-4;
  std::uint64_t restarts = 1;  ///< n_init: starts per k, the lowest inertia wins
  std::uint64_t seed = 0;
  [[nodiscard]] bool sweep() const { return k_last > k_first; }
};

struct ItemsetConfig {
  double min_support = 0.01;  ///< >= 1: a basket count; in (0, 1): a fraction of the baskets
  std::uint32_t max_size = 0;  ///< 0: no limit
};

struct RuleConfig {
  double min_confidence = 0.3;  ///< in (0, 1]
  double min_lift = 1;          ///< 0: no lift filter
  std::uint64_t top = 0;        ///< keep the `top` rules of highest lift; 0: all
};

struct CheckpointConfig {
  /// Where stage checkpoints go (resolved against the config's folder); empty: no checkpoints.
  std::string directory;
  /// K-means progress is checkpointed every this many Lloyd iterations (and on a stop request).
  std::uint64_t kmeans_interval = 10;
  /// Checkpoints are read back only after a failure: caching them only takes memory and time.
  io::PageCacheBypass page_cache{.enabled = true};
};

struct JobConfig {
  std::string config_path;
  std::string config_text;  ///< the file as read, recorded in the outputs
  CsvInputConfig customers;
  CsvInputConfig identity;
  CsvInputConfig items;
  std::vector<OrderInputConfig> orders;
  FeatureConfig features;
  EngineConfig engine;
  PcaConfig pca;
  KmeansConfig kmeans;
  ItemsetConfig itemsets;
  RuleConfig rules;
  CheckpointConfig checkpoint;
  std::string output_directory;  ///< empty when the config has none (the command line must give it)
  /// Large outputs are read later, by another job or on another node: this node's cache of them is
  /// memory the job could use.
  io::PageCacheBypass output_page_cache{.enabled = true};
};

/// The roles of each input table, required ones first; docs/formats.md lists them.
struct TableRoles {
  std::vector<std::string> required;
  std::vector<std::string> optional;
};
[[nodiscard]] const TableRoles& customer_roles();
[[nodiscard]] const TableRoles& identity_roles();
[[nodiscard]] const TableRoles& item_roles();
[[nodiscard]] const TableRoles& order_roles();

/// Pure: parses the text of a job configuration (`config_path` names it in messages and anchors
/// relative paths). Throws InputError naming the key on any problem; does not look at the files.
[[nodiscard]] JobConfig parse_job_config(const std::string& config_text, const std::string& config_path);

/// Collective. Rank 0 reads `config_path`; every rank parses the same text; input files are checked
/// to exist and the memory budget to fit the nodes (check_memory_budget), before any work. Throws
/// the same CollectiveError on every rank on any problem.
[[nodiscard]] JobConfig load_job_config(const engine::Communicator& comm, const std::string& config_path);

/// Collective. Throws InputError naming the key when `[engine] memory_budget_mb` cannot fit: the
/// send and receive buffers of every rank on a node (2 × budget × ranks on the node) exceed the
/// node's physical memory.
void check_memory_budget(const engine::Communicator& comm, const JobConfig& config);

}  // namespace omniseg::jobs
