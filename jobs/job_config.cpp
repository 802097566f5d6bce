#include "jobs/job_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/resources.hpp"
#include "io/csv_fields.hpp"

namespace omniseg::jobs {
namespace {

/// Reads one TOML table, remembering which keys were used so that leftovers are reported.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string name, const std::string& file)
      : table_(table), name_(std::move(name)), file_(file) {}

  [[nodiscard]] std::string key_name(std::string_view key) const {
    return name_.empty() ? std::string(key) : name_ + "." + std::string(key);
  }

  [[nodiscard]] const toml::node* find(std::string_view key) {
    used_.insert(std::string(key));
    return table_.get(key);
  }

  [[nodiscard]] std::optional<std::string> string(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_string()) return value->get();
    throw wrong_type(key, "a string", *node);
  }
  [[nodiscard]] std::string required_string(std::string_view key) {
    auto value = string(key);
    if (!value) throw InputError(fmt::format("{}: missing key '{}'", file_, key_name(key)));
    if (value->empty()) throw InputError(fmt::format("{}: key '{}' must not be empty", file_, key_name(key)));
    return *value;
  }
  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_integer()) return value->get();
    throw wrong_type(key, "an integer", *node);
  }
  [[nodiscard]] std::optional<bool> boolean(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_boolean()) return value->get();
    throw wrong_type(key, "true or false", *node);
  }
  [[nodiscard]] std::optional<double> number(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_floating_point()) return value->get();
    if (const auto* value = node->as_integer()) return static_cast<double>(value->get());
    throw wrong_type(key, "a number", *node);
  }
  [[nodiscard]] const toml::table* table(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return nullptr;
    if (const auto* value = node->as_table()) return value;
    throw wrong_type(key, "a table", *node);
  }
  [[nodiscard]] const toml::array* array(std::string_view key) {
    const toml::node* node = find(key);
    if (node == nullptr) return nullptr;
    if (const auto* value = node->as_array()) return value;
    throw wrong_type(key, "an array of tables ([[...]])", *node);
  }

  /// Every key not read is unknown: a typo the user wants to hear about, not a silent default.
  void reject_unknown_keys() const {
    for (const auto& [key, node] : table_) {
      if (!used_.contains(std::string(key.str()))) {
        throw InputError(fmt::format("{}: unknown key '{}' (line {})", file_, key_name(key.str()),
                                     node.source().begin.line));
      }
    }
  }

  [[nodiscard]] const std::string& file() const { return file_; }

 private:
  [[nodiscard]] InputError wrong_type(std::string_view key, std::string_view wanted, const toml::node& node) const {
    return InputError(fmt::format("{}: key '{}' must be {} (line {})", file_, key_name(key), wanted,
                                  node.source().begin.line));
  }

  const toml::table& table_;
  std::string name_;
  const std::string& file_;
  std::set<std::string> used_;
};

std::string resolve(const std::string& path, const std::string& config_path) {
  const std::filesystem::path file(path);
  if (file.is_absolute()) return path;
  return (std::filesystem::path(config_path).parent_path() / file).lexically_normal().string();
}

void map_columns_of(CsvInputConfig& input, const toml::table* columns, const TableRoles& roles,
                    const std::string& table_name, const std::string& file) {
  ColumnMapping& mapping = input.columns;
  std::optional<TableReader> reader;
  if (columns != nullptr) reader.emplace(*columns, table_name + ".columns", file);
  for (const auto* list : {&roles.required, &roles.optional}) {
    for (const std::string& role : *list) {
      std::optional<std::string> column = reader ? reader->string(role) : std::nullopt;
      if (column && column->empty()) {
        throw InputError(fmt::format("{}: key '{}.columns.{}' must name a column", file, table_name, role));
      }
      // A role defaults to a column of the same name; an optional role left out of the config is
      // read only when the file has such a column (decided once the header is known).
      if (!column && list == &roles.optional) input.optional_roles_defaulted.push_back(role);
      mapping.emplace_back(role, column.value_or(role));
    }
  }
  if (reader) reader->reject_unknown_keys();
}

CsvInputConfig csv_table(TableReader& parent, std::string_view key, const TableRoles& roles,
                         const std::string& config_path) {
  const toml::table* table = parent.table(key);
  if (table == nullptr) throw InputError(fmt::format("{}: missing table [{}]", parent.file(), parent.key_name(key)));
  TableReader reader(*table, parent.key_name(key), parent.file());
  CsvInputConfig input;
  input.display_name = reader.required_string("file");
  input.path = resolve(input.display_name, config_path);
  map_columns_of(input, reader.table("columns"), roles, parent.key_name(key), parent.file());
  reader.reject_unknown_keys();
  return input;
}

std::vector<OrderInputConfig> order_inputs(TableReader& input, const std::string& config_path) {
  const toml::array* orders = input.array("orders");
  if (orders == nullptr || orders->empty()) {
    throw InputError(fmt::format("{}: missing [[input.orders]]: at least one order file is needed", input.file()));
  }
  std::vector<OrderInputConfig> result;
  for (std::size_t i = 0; i < orders->size(); ++i) {
    const std::string name = fmt::format("input.orders[{}]", i);
    const auto* table = (*orders)[i].as_table();
    if (table == nullptr) throw InputError(fmt::format("{}: '{}' must be a table", input.file(), name));
    TableReader reader(*table, name, input.file());
    OrderInputConfig order;
    order.channel = reader.required_string("channel");
    order.display_name = reader.required_string("file");
    order.path = resolve(order.display_name, config_path);
    map_columns_of(order, reader.table("columns"), order_roles(), name, input.file());
    reader.reject_unknown_keys();
    result.push_back(std::move(order));
  }
  return result;
}

FeatureConfig feature_config(TableReader& root) {
  FeatureConfig features;
  const toml::table* table = root.table("features");
  if (table == nullptr) throw InputError(fmt::format("{}: missing table [features] (as_of is required)", root.file()));
  TableReader reader(*table, "features", root.file());
  // TOML has a date type; a quoted "YYYY-MM-DD" is accepted too.
  const toml::node* as_of = reader.find("as_of");
  if (as_of == nullptr) throw InputError(fmt::format("{}: missing key 'features.as_of' (a date, YYYY-MM-DD)", root.file()));
  if (const auto* date = as_of->as_date()) {
    const toml::date& d = date->get();
    features.as_of_text = fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
  } else if (const auto* text = as_of->as_string()) {
    features.as_of_text = text->get();
  } else {
    throw InputError(fmt::format("{}: key 'features.as_of' must be a date (YYYY-MM-DD)", root.file()));
  }
  if (io::parse_date(features.as_of_text, features.as_of_days) != io::FieldStatus::ok) {
    throw InputError(fmt::format("{}: key 'features.as_of' is not a date (YYYY-MM-DD): '{}'", root.file(),
                                 features.as_of_text));
  }
  if (const auto top = reader.integer("top_categories")) {
    if (*top < 0 || *top > 1000) {
      throw InputError(fmt::format("{}: key 'features.top_categories' must lie in [0, 1000], got {}", root.file(), *top));
    }
    features.top_categories = static_cast<int>(*top);
  }
  reader.reject_unknown_keys();
  return features;
}

EngineConfig engine_config(TableReader& root) {
  EngineConfig engine;
  const toml::table* table = root.table("engine");
  if (table == nullptr) return engine;
  TableReader reader(*table, "engine", root.file());
  constexpr double mebibyte = 1024.0 * 1024.0;
  const auto megabytes = [&](std::string_view key, std::uint64_t& bytes) {
    if (const auto value = reader.number(key)) {
      if (!(*value >= 0) || !std::isfinite(*value) || *value > 1e12) {
        throw InputError(fmt::format("{}: key 'engine.{}' must be a size in MiB >= 0, got {}", root.file(), key, *value));
      }
      bytes = static_cast<std::uint64_t>(*value * mebibyte);
    }
  };
  megabytes("memory_budget_mb", engine.memory_budget_bytes);
  megabytes("broadcast_threshold_mb", engine.broadcast_threshold_bytes);
  if (const auto share = reader.number("heavy_key_share")) {
    if (!(*share >= 0) || !std::isfinite(*share)) {
      throw InputError(fmt::format("{}: key 'engine.heavy_key_share' must be >= 0 (0: automatic, >= 1: off), got {}",
                                   root.file(), *share));
    }
    engine.heavy_key_share = *share;
  }
  reader.reject_unknown_keys();
  return engine;
}

/// A whole number in [least, most] under `table.key`, or `fallback` when the key is absent.
std::uint64_t bounded_integer(TableReader& reader, std::string_view key, std::int64_t least, std::int64_t most,
                              std::uint64_t fallback) {
  const auto value = reader.integer(key);
  if (!value) return fallback;
  if (*value < least || *value > most) {
    throw InputError(fmt::format("{}: key '{}' must lie in [{}, {}], got {}", reader.file(), reader.key_name(key),
                                 least, most, *value));
  }
  return static_cast<std::uint64_t>(*value);
}

/// A finite number in [least, most] (or (least, most] when `open_below`), or `fallback`.
double bounded_number(TableReader& reader, std::string_view key, double least, double most, bool open_below,
                      double fallback) {
  const auto value = reader.number(key);
  if (!value) return fallback;
  const bool above = open_below ? *value > least : *value >= least;
  if (!std::isfinite(*value) || !above || *value > most) {
    throw InputError(fmt::format("{}: key '{}' must lie in {}{}, {}], got {}", reader.file(), reader.key_name(key),
                                 open_below ? "(" : "[", least, most, *value));
  }
  return *value;
}

/// The optional table `name` of the root; std::nullopt when absent.
std::optional<TableReader> optional_table(TableReader& root, std::string_view name) {
  const toml::table* table = root.table(name);
  if (table == nullptr) return std::nullopt;
  return std::optional<TableReader>(std::in_place, *table, std::string(name), root.file());
}

PcaConfig pca_config(TableReader& root) {
  PcaConfig pca;
  if (auto reader = optional_table(root, "pca")) {
    pca.components = bounded_integer(*reader, "components", 1, 1000, pca.components);
    reader->reject_unknown_keys();
  }
  return pca;
}

KmeansConfig kmeans_config(TableReader& root) {
  KmeansConfig kmeans;
  auto reader = optional_table(root, "kmeans");
  if (!reader) return kmeans;
  // k = 8, or k = "4:12" for a sweep scored by silhouette.
  if (const toml::node* k = reader->find("k")) {
    const std::string key = reader->key_name("k");
    if (const auto* number = k->as_integer()) {
      if (number->get() < 1) throw InputError(fmt::format("{}: key '{}' must be >= 1, got {}", root.file(), key, number->get()));
      kmeans.k_first = kmeans.k_last = static_cast<std::uint64_t>(number->get());
    } else if (const auto* text = k->as_string()) {
      const std::string& range = text->get();
      const auto colon = range.find(':');
      std::int64_t first = 0, last = 0;
      const auto parse = [](std::string_view part, std::int64_t& out) {
        const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
        return !part.empty() && error == std::errc() && end == part.data() + part.size();
      };
      if (colon == std::string::npos || !parse(std::string_view(range).substr(0, colon), first) ||
          !parse(std::string_view(range).substr(colon + 1), last) || first < 1 || last < first) {
        throw InputError(fmt::format("{}: key '{}' must be an integer k >= 1 or a range \"A:B\" with 1 <= A <= B, got \"{}\"",
                                     root.file(), key, range));
      }
      kmeans.k_first = static_cast<std::uint64_t>(first);
      kmeans.k_last = static_cast<std::uint64_t>(last);
    } else {
      throw InputError(fmt::format("{}: key '{}' must be an integer or a range \"A:B\" (line {})", root.file(), key,
                                   k->source().begin.line));
    }
  }
  if (const auto init = reader->string("init")) {
    if (*init != "k-means++" && *init != "k-means||") {
      throw InputError(fmt::format("{}: key 'kmeans.init' must be \"k-means++\" or \"k-means||\", got \"{}\"",
                                   root.file(), *init));
    }
    kmeans.kmeans_parallel_init = *init == "k-means||";
  }
  kmeans.max_iterations = bounded_integer(*reader, "max_iter", 1, 1'000'000, kmeans.max_iterations);
  kmeans.tolerance = bounded_number(*reader, "tol", 0, 1e300, false, kmeans.tolerance);
  kmeans.restarts = bounded_integer(*reader, "n_init", 1, 1000, kmeans.restarts);
  kmeans.seed = bounded_integer(*reader, "seed", 0, std::numeric_limits<std::int64_t>::max(), kmeans.seed);
  reader->reject_unknown_keys();
  return kmeans;
}

ItemsetConfig itemset_config(TableReader& root) {
  ItemsetConfig itemsets;
  if (auto reader = optional_table(root, "itemsets")) {
    itemsets.min_support = bounded_number(*reader, "min_support", 0, 1e18, true, itemsets.min_support);
    if (itemsets.min_support >= 1 && itemsets.min_support != std::floor(itemsets.min_support)) {
      throw InputError(fmt::format("{}: key 'itemsets.min_support' >= 1 is a basket count and must be whole, got {} "
                                   "(a fraction lies in (0, 1))", root.file(), itemsets.min_support));
    }
    itemsets.max_size = static_cast<std::uint32_t>(bounded_integer(*reader, "max_size", 0, 1000, itemsets.max_size));
    reader->reject_unknown_keys();
  }
  return itemsets;
}

RuleConfig rule_config(TableReader& root) {
  RuleConfig rules;
  if (auto reader = optional_table(root, "rules")) {
    rules.min_confidence = bounded_number(*reader, "min_confidence", 0, 1, true, rules.min_confidence);
    rules.min_lift = bounded_number(*reader, "min_lift", 0, 1e300, false, rules.min_lift);
    rules.top = bounded_integer(*reader, "top", 0, std::numeric_limits<std::int64_t>::max(), rules.top);
    reader->reject_unknown_keys();
  }
  return rules;
}

/// `bypass_page_cache` and `bypass_page_cache_min_kib` of a table, over `policy`.
io::PageCacheBypass page_cache_bypass(TableReader& reader, io::PageCacheBypass policy) {
  policy.enabled = reader.boolean("bypass_page_cache").value_or(policy.enabled);
  policy.min_bytes_per_rank =
      bounded_integer(reader, "bypass_page_cache_min_kib", 4, std::int64_t{1} << 30, policy.min_bytes_per_rank >> 10) << 10;
  return policy;
}

CheckpointConfig checkpoint_config(TableReader& root, const std::string& config_path) {
  CheckpointConfig checkpoint;
  if (auto reader = optional_table(root, "checkpoint")) {
    if (const auto directory = reader->string("directory")) {
      if (directory->empty()) throw InputError(fmt::format("{}: key 'checkpoint.directory' must not be empty", config_path));
      checkpoint.directory = resolve(*directory, config_path);
    }
    checkpoint.kmeans_interval = bounded_integer(*reader, "kmeans_interval", 1, 1'000'000, checkpoint.kmeans_interval);
    checkpoint.page_cache = page_cache_bypass(*reader, checkpoint.page_cache);
    reader->reject_unknown_keys();
  }
  return checkpoint;
}

}  // namespace

const TableRoles& customer_roles() {
  static const TableRoles roles{{"customer_id", "signup_date"}, {"region"}};
  return roles;
}
const TableRoles& identity_roles() {
  static const TableRoles roles{{"channel", "channel_key", "customer_id"}, {}};
  return roles;
}
const TableRoles& item_roles() {
  static const TableRoles roles{{"item_id", "category"}, {"brand", "list_price"}};
  return roles;
}
const TableRoles& order_roles() {
  static const TableRoles roles{{"order_id", "channel_key", "item_id", "quantity", "unit_price", "ts"}, {}};
  return roles;
}

JobConfig parse_job_config(const std::string& config_text, const std::string& config_path) {
  toml::table root_table;
  try {
    root_table = toml::parse(config_text, config_path);
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}: {}", config_path, e.source().begin.line, e.description()));
  }
  JobConfig config;
  config.config_path = config_path;
  config.config_text = config_text;
  TableReader root(root_table, "", config_path);

  const toml::table* input_table = root.table("input");
  if (input_table == nullptr) throw InputError(fmt::format("{}: missing table [input]", config_path));
  TableReader input(*input_table, "input", config_path);
  config.customers = csv_table(input, "customers", customer_roles(), config_path);
  config.identity = csv_table(input, "identity", identity_roles(), config_path);
  config.items = csv_table(input, "items", item_roles(), config_path);
  config.orders = order_inputs(input, config_path);
  input.reject_unknown_keys();

  // One file named twice would be read, and accounted for, twice.
  std::map<std::string, std::string> role_of_path;
  const auto claim = [&](const CsvInputConfig& csv, const std::string& role) {
    const std::string path = std::filesystem::path(csv.path).lexically_normal().string();
    const auto [at, fresh] = role_of_path.emplace(path, role);
    if (!fresh) {
      throw InputError(fmt::format("{}: '{}' is named twice, as {} and as {}", config_path, csv.path, at->second, role));
    }
  };
  claim(config.customers, "input.customers.file");
  claim(config.identity, "input.identity.file");
  claim(config.items, "input.items.file");
  for (std::size_t i = 0; i < config.orders.size(); ++i) claim(config.orders[i], fmt::format("input.orders[{}].file", i));

  std::set<std::string> channels;
  for (const auto& order : config.orders) channels.insert(order.channel);
  if (channels.size() > 250) throw InputError(fmt::format("{}: more than 250 channels", config_path));

  config.features = feature_config(root);
  config.engine = engine_config(root);
  config.pca = pca_config(root);
  config.kmeans = kmeans_config(root);
  config.itemsets = itemset_config(root);
  config.rules = rule_config(root);
  config.checkpoint = checkpoint_config(root, config_path);
  if (const toml::table* output = root.table("output")) {
    TableReader reader(*output, "output", config_path);
    if (const auto directory = reader.string("directory")) {
      if (directory->empty()) throw InputError(fmt::format("{}: key 'output.directory' must not be empty", config_path));
      config.output_directory = resolve(*directory, config_path);
    }
    config.output_page_cache = page_cache_bypass(reader, config.output_page_cache);
    reader.reject_unknown_keys();
  }
  root.reject_unknown_keys();
  return config;
}

JobConfig load_job_config(const engine::Communicator& comm, const std::string& config_path) {
  std::string text;
  engine::collectively(comm, [&] {
    if (!comm.is_root()) return;
    std::ifstream file(config_path, std::ios::binary);
    if (!file) throw InputError(fmt::format("cannot open the job configuration '{}'", config_path));
    std::ostringstream content;
    content << file.rdbuf();
    text = std::move(content).str();
  });
  comm.broadcast(text);
  return engine::collectively(comm, [&] {
    JobConfig config = parse_job_config(text, config_path);
    if (comm.is_root()) {
      std::vector<const CsvInputConfig*> inputs{&config.customers, &config.identity, &config.items};
      for (const auto& order : config.orders) inputs.push_back(&order);
      for (const auto* input : inputs) {
        if (!std::filesystem::is_regular_file(input->path)) {
          throw InputError(fmt::format("{}: input file '{}' does not exist (looked for {})", config_path,
                                       input->display_name, input->path));
        }
      }
    }
    check_memory_budget(comm, config);
    return config;
  });
}

void check_memory_budget(const engine::Communicator& comm, const JobConfig& config) {
  const int ranks = engine::ranks_on_this_node(comm);  // collective: every rank calls it
  const std::uint64_t budget = config.engine.memory_budget_bytes, physical = engine::physical_memory_bytes();
  if (budget == 0 || physical == 0) return;
  // A shuffle round holds a send and a receive buffer of up to the budget on every rank.
  const std::uint64_t needed = 2 * budget * static_cast<std::uint64_t>(ranks);
  if (needed > physical) {
    constexpr double mib = 1024.0 * 1024.0;
    throw InputError(fmt::format(
        "{}: key 'engine.memory_budget_mb' = {:.0f} MiB per rank asks for more memory than exists: {} ranks on node "
        "{} need up to 2 × {:.0f} × {} = {:.0f} MiB of shuffle buffers, and the node has {:.0f} MiB",
        config.config_path, static_cast<double>(budget) / mib, ranks, engine::Communicator::processor_name(),
        static_cast<double>(budget) / mib, ranks, static_cast<double>(needed) / mib,
        static_cast<double>(physical) / mib));
  }
}

}  // namespace omniseg::jobs
