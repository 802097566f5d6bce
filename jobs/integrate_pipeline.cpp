#include "jobs/integrate_pipeline.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>
#include <tuple>

#include "engine/distributed_sort.hpp"
#include "engine/errors.hpp"
#include "engine/exact_sum.hpp"
#include "engine/lookup_join.hpp"
#include "engine/hash_partition.hpp"
#include "engine/shuffle.hpp"
#include "jobs/input_tables.hpp"

namespace omniseg::jobs {
namespace {

using io::RejectReason;

engine::JoinOptions join_options(const JobConfig& config) {
  engine::JoinOptions options;
  options.broadcast_threshold_bytes = config.engine.broadcast_threshold_bytes;
  options.heavy_key_share = config.engine.heavy_key_share;
  options.budget.bytes_per_rank = config.engine.memory_budget_bytes;
  return options;
}

std::string strategy_name(engine::JoinStrategy strategy) {
  switch (strategy) {
    case engine::JoinStrategy::automatic: return "automatic";
    case engine::JoinStrategy::shuffle: return "shuffle";
    case engine::JoinStrategy::broadcast_right: return "broadcast";
    case engine::JoinStrategy::colocated: return "colocated";
  }
  return "unknown";
}

// ---- rows unique by an integer id, sorted over the ranks ----------------------------------------

/// Collective. Sorts `rows` by (id, line) over all ranks and keeps the first row of each id (the
/// earliest line of the file); the others are rejected as duplicate_key. Returns this rank's block
/// of the kept rows: ranks hold consecutive, ascending id ranges.
template <class Row, class IdOf>
std::vector<Row> keep_first_of_each_id(const engine::Communicator& comm, std::vector<Row> rows, IdOf id_of,
                                       std::vector<io::RejectRecord>& rejects) {
  const auto less = [&](const Row& a, const Row& b) {
    return std::tuple(id_of(a), a.origin.line_number) < std::tuple(id_of(b), b.origin.line_number);
  };
  std::vector<Row> block = engine::sort_into_blocks(comm, std::move(rows), less);

  // A duplicate may sit at the start of this block while its first row ends an earlier block.
  struct Ends {
    std::int64_t last_id = 0;
    std::uint8_t has_rows = 0;
  };
  Ends ends;
  if (!block.empty()) ends = {.last_id = id_of(block.back()), .has_rows = 1};
  const std::vector<Ends> all_ends = comm.allgather(ends);
  bool have_previous = false;
  std::int64_t previous_id = 0;
  for (int r = 0; r < comm.rank(); ++r) {
    if (all_ends[static_cast<std::size_t>(r)].has_rows) {
      have_previous = true;
      previous_id = all_ends[static_cast<std::size_t>(r)].last_id;
    }
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < block.size(); ++i) {
    const bool duplicate = kept > 0 ? id_of(block[kept - 1]) == id_of(block[i])
                                    : (have_previous && previous_id == id_of(block[i]));
    if (duplicate) {
      rejects.push_back(reject_of(block[i].origin, RejectReason::duplicate_key, 0));
    } else {
      block[kept++] = block[i];
    }
  }
  block.resize(kept);
  return block;
}

/// Which rank owns a customer id: the ranks hold consecutive ascending id ranges (from the sort).
class CustomerRanges {
 public:
  CustomerRanges(const engine::Communicator& comm, const std::vector<CustomerRow>& block) {
    struct First {
      std::int64_t id = 0;
      std::uint8_t has_rows = 0;
    };
    First first;
    if (!block.empty()) first = {.id = block.front().customer_id, .has_rows = 1};
    for (int r = 0; const First& f : comm.allgather(first)) {
      if (f.has_rows) {
        first_ids_.push_back(f.id);
        ranks_.push_back(r);
      }
      ++r;
    }
  }
  /// The rank whose range holds `id` (for an unknown id: the rank that would hold it).
  [[nodiscard]] int owner(std::int64_t id) const {
    if (ranks_.empty()) return 0;
    const auto after = std::upper_bound(first_ids_.begin(), first_ids_.end(), id);
    return after == first_ids_.begin() ? ranks_.front() : ranks_[static_cast<std::size_t>(after - first_ids_.begin() - 1)];
  }

 private:
  std::vector<std::int64_t> first_ids_;
  std::vector<int> ranks_;
};


// ---- items ---------------------------------------------------------------------------------------

/// Collective. Numbers the categories of all ranks in name order and rewrites the rows' local
/// category indices to the global ones; returns the global names.
std::vector<std::string> number_categories_globally(const engine::Communicator& comm, ParsedItems& items) {
  std::string local;
  for (const auto& name : items.category_names) {
    local += name;
    local.push_back('\0');
  }
  const auto gathered = comm.allgatherv(std::span<const char>(local.data(), local.size())).data;
  std::vector<std::string> names;
  for (std::size_t begin = 0; begin < gathered.size();) {
    const auto end = static_cast<std::size_t>(std::find(gathered.begin() + static_cast<std::ptrdiff_t>(begin), gathered.end(), '\0') - gathered.begin());
    names.emplace_back(gathered.data() + begin, end - begin);
    begin = end + 1;
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<std::uint32_t> global_of_local;
  for (const auto& name : items.category_names) {
    global_of_local.push_back(static_cast<std::uint32_t>(std::lower_bound(names.begin(), names.end(), name) - names.begin()));
  }
  for (auto& row : items.rows) row.category = global_of_local[row.category];
  return names;
}

// ---- identity ------------------------------------------------------------------------------------

/// What the order lines look up in the catalog.
struct ItemCategory {
  std::uint32_t category = 0;
};

/// A kept identity key and whether its customer exists.
struct IdentityEntry {
  std::int64_t customer_id = 0;
  std::uint8_t customer_known = 0;
};

struct ResolvedIdentity {
  std::vector<IdentityEntry> entries;
  engine::StringColumn keys;
  std::uint64_t conflict_keys = 0;  ///< this rank
};

/// Collective. Moves every identity row to its key's owner; per key, the row with the lowest
/// customer_id (then the earliest line) is kept; rows of the same key and customer are
/// duplicate_key, rows mapping the key to another customer are identity_conflict.
ResolvedIdentity resolve_identity(const engine::Communicator& comm, ParsedIdentity identity,
                                  const engine::ShuffleBudget& budget, std::vector<io::RejectRecord>& rejects) {
  std::vector<int> destination(identity.rows.size());
  for (std::size_t i = 0; i < identity.rows.size(); ++i) {
    destination[i] = engine::owner_of(engine::hash_bytes(identity.keys[i]), comm.size());
  }
  engine::Rows<IdentityRow> sent{.records = std::move(identity.rows), .strings = std::move(identity.keys)};
  engine::Rows<IdentityRow> received;
  engine::shuffle_rows(comm, sent, destination, received, budget);
  sent = {};

  // Sort small integer tuples, not strings: rows of one key are adjacent (equal hash), ordered by
  // customer and line. Only rows whose hashes collide need their bytes compared.
  struct Entry {
    std::uint64_t hash;
    std::int64_t customer_id;
    std::uint64_t line;
    std::uint32_t row;
  };
  const auto& rows = received.records;
  const engine::StringColumn& keys = received.strings;
  std::vector<Entry> order(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    order[i] = {.hash = engine::hash_bytes(keys[i]), .customer_id = rows[i].customer_id,
                .line = rows[i].origin.line_number, .row = static_cast<std::uint32_t>(i)};
  }
  const auto by_hash_customer_line = [](const Entry& a, const Entry& b) {
    return std::tie(a.hash, a.customer_id, a.line) < std::tie(b.hash, b.customer_id, b.line);
  };
  std::sort(order.begin(), order.end(), by_hash_customer_line);

  ResolvedIdentity resolved;
  resolved.entries.reserve(order.size());
  resolved.keys.reserve(order.size(), keys.byte_size());
  for (std::size_t begin = 0; begin < order.size();) {
    std::size_t end = begin + 1;
    while (end < order.size() && order[end].hash == order[begin].hash) ++end;
    // Almost always one key; after a hash collision, group the run by key (stable: customer, line order stays).
    const bool one_key = std::all_of(order.begin() + static_cast<std::ptrdiff_t>(begin) + 1, order.begin() + static_cast<std::ptrdiff_t>(end),
                                     [&](const Entry& e) { return keys[e.row] == keys[order[begin].row]; });
    if (!one_key) {
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin), order.begin() + static_cast<std::ptrdiff_t>(end),
                       [&](const Entry& a, const Entry& b) { return keys[a.row] < keys[b.row]; });
    }
    for (std::size_t g = begin; g < end;) {
      const Entry& first = order[g];
      std::size_t key_end = g + 1;
      bool conflict = false;
      for (; key_end < end && keys[order[key_end].row] == keys[first.row]; ++key_end) {
        const IdentityRow& other = rows[order[key_end].row];
        const bool same_customer = other.customer_id == first.customer_id;
        conflict = conflict || !same_customer;
        rejects.push_back(reject_of(other.origin, same_customer ? RejectReason::duplicate_key : RejectReason::identity_conflict,
                                    same_customer ? io::no_column : 2));
      }
      resolved.entries.push_back({.customer_id = first.customer_id});
      resolved.keys.push_back(keys[first.row]);
      if (conflict) ++resolved.conflict_keys;
      g = key_end;
    }
    begin = end;
  }
  return resolved;
}

/// Collective. Marks the entries whose customer is in the customers file: a lookup of the
/// entries' customer ids in the customer table.
void mark_known_customers(const engine::Communicator& comm, ResolvedIdentity& identity,
                          const std::vector<CustomerRow>& customers, const engine::JoinOptions& options) {
  struct Known {
    std::uint8_t known = 0;
  };
  std::vector<std::uint64_t> wanted(identity.entries.size());
  for (std::size_t i = 0; i < wanted.size(); ++i) wanted[i] = static_cast<std::uint64_t>(identity.entries[i].customer_id);
  engine::JoinSide<Known, std::vector<std::uint64_t>> table;
  table.rows.assign(customers.size(), Known{.known = 1});
  table.keys.reserve(customers.size());
  for (const auto& customer : customers) table.keys.push_back(static_cast<std::uint64_t>(customer.customer_id));
  const auto found = engine::lookup_join(comm, wanted, {}, std::move(table), options);
  for (std::size_t i = 0; i < wanted.size(); ++i) identity.entries[i].customer_known = found.found[i];
}

// ---- accounting ----------------------------------------------------------------------------------

/// Per file: rows kept (or joined), anonymous, and rejected by reason — counted on each rank.
struct LocalCounts {
  explicit LocalCounts(std::size_t files)
      : joined(files, 0), anonymous(files, 0), rejected(files * io::reject_reason_count, 0) {}
  std::vector<std::uint64_t> joined, anonymous, rejected;
};

std::vector<FileAccounting> account(const engine::Communicator& comm, const InputFiles& files, const ReadCounts& reads,
                                    LocalCounts counts, const std::vector<io::RejectRecord>& rejects) {
  for (const auto& reject : rejects) {
    ++counts.rejected[reject.file_index * io::reject_reason_count + static_cast<std::size_t>(reject.reason)];
  }
  const auto read = comm.allreduce(reads.records, engine::ReduceOp::sum);
  const auto joined = comm.allreduce(counts.joined, engine::ReduceOp::sum);
  const auto anonymous = comm.allreduce(counts.anonymous, engine::ReduceOp::sum);
  const auto rejected = comm.allreduce(counts.rejected, engine::ReduceOp::sum);
  std::vector<FileAccounting> accounting;
  for (std::size_t f = 0; f < files.size(); ++f) {
    FileAccounting file{.file = files.inputs[f]->display_name, .read = read[f], .joined = joined[f], .anonymous = anonymous[f], .rejected = {}};
    for (std::size_t r = 0; r < io::reject_reason_count; ++r) {
      const std::uint64_t count = rejected[f * io::reject_reason_count + r];
      if (count > 0) file.rejected[std::string(io::reason_name(static_cast<RejectReason>(r)))] = count;
    }
    // Every row is counted once where it ends: a mismatch is a bug in this pipeline, never the data.
    if (!file.balanced()) {
      throw Error(fmt::format("internal error: the accounting of '{}' does not add up: read {} != joined {} + "
                              "anonymous {} + rejected {}", file.file, file.read, file.joined, file.anonymous,
                              file.rejected_total()));
    }
    accounting.push_back(std::move(file));
  }
  return accounting;
}

// ---- features ------------------------------------------------------------------------------------

struct FeatureInputs {
  std::vector<features::FeatureLine> lines;   ///< joined lines of known customers
  std::vector<features::BasketItem> basket_items;
};

/// The order-file roles named in rejects (order_roles() order).
constexpr std::uint16_t order_key_role = 1, order_item_role = 2;

void add_basket_item(const OrderLine& line, std::vector<features::BasketItem>& items) {
  // A basket lists what was bought: returned items (negative quantity) are not in it.
  if (line.purchase) items.push_back({.channel = line.channel, .order_id = line.order_id, .item_id = line.item_id});
}

template <class Value>
JoinSummary join_summary(const engine::Communicator& comm, std::string name, const engine::LookupResult<Value>& joined) {
  const auto matched = static_cast<std::uint64_t>(std::count(joined.found.begin(), joined.found.end(), std::uint8_t{1}));
  return {.name = std::move(name), .strategy = strategy_name(joined.report.strategy), .heavy_keys = joined.report.heavy_keys,
          .matched_rows = comm.allreduce(matched, engine::ReduceOp::sum), .keys_sent = joined.report.left_rows_moved,
          .bytes_moved = joined.report.bytes_moved};
}

/// Collective. Chooses the top categories, reduces the lines to partial totals, moves them to the
/// customers' owners and computes the feature rows there (into result.features).
features::FeatureSchema customer_features(const engine::Communicator& comm, const JobConfig& config,
                                          const std::vector<std::string>& channels,
                                          const std::vector<std::string>& categories,
                                          const std::vector<CustomerRow>& customers, const CustomerRanges& ranges,
                                          const engine::ShuffleBudget& budget,
                                          const std::vector<features::FeatureLine>& lines, IntegrationResult& result) {
  // Top categories by gross purchase value over all ranks: exact sums, so the same on any rank count.
  std::vector<engine::Int128> gross(categories.size(), 0);
  for (const auto& line : lines) {
    if (line.purchase) gross[line.category] += line.value_units;
  }
  comm.allreduce_exact_sum_in_place(gross);
  const std::vector<std::uint32_t> top = features::top_categories(gross, categories, config.features.top_categories);
  features::FeatureSchema schema{.channel_names = channels, .category_names = {}, .as_of_days = config.features.as_of_days};
  std::vector<int> slot_of_category(categories.size(), -1);
  for (std::size_t s = 0; s < top.size(); ++s) {
    slot_of_category[top[s]] = static_cast<int>(s);
    schema.category_names.push_back(categories[top[s]]);
  }

  // Partials on this rank, then to the customer's owner.
  engine::Rows<features::OrderTotals> order_totals, orders_at_owner;
  features::total_orders(lines, order_totals.records);
  engine::Rows<features::CategorySpend> spend, spend_at_owner;
  spend.records = features::category_spend(lines, slot_of_category);
  std::vector<int> destination;
  for (const auto& order : order_totals.records) destination.push_back(ranges.owner(order.customer_id));
  engine::shuffle_rows(comm, order_totals, destination, orders_at_owner, budget);
  destination.clear();
  for (const auto& entry : spend.records) destination.push_back(ranges.owner(entry.customer_id));
  engine::shuffle_rows(comm, spend, destination, spend_at_owner, budget);
  features::merge_order_totals(orders_at_owner.records);
  features::merge_category_spend(spend_at_owner.records);

  std::vector<features::CustomerFacts> facts;
  facts.reserve(customers.size());
  for (const auto& customer : customers) facts.push_back({.customer_id = customer.customer_id, .signup_days = customer.signup_days});
  result.features = features::feature_rows(facts, orders_at_owner.records, spend_at_owner.records, schema);
  return schema;
}

}  // namespace

std::uint64_t FileAccounting::rejected_total() const {
  std::uint64_t total = 0;
  for (const auto& [reason, count] : rejected) total += count;
  return total;
}

IntegrationResult integrate(const engine::Communicator& comm, const JobConfig& config, engine::PhaseTimers& timers) {
  const InputFiles files(config);
  const std::vector<std::string> channels = channel_names(config);
  const engine::ShuffleBudget budget{.bytes_per_rank = config.engine.memory_budget_bytes};
  IntegrationResult result;
  io::CsvShard shard;
  ReadCounts reads{.records = std::vector<std::uint64_t>(files.size(), 0)};
  LocalCounts counts(files.size());
  std::vector<io::RejectRecord>& rejects = result.rejects;

  // 1. Customers: unique ids, sorted into consecutive ranges over the ranks.
  std::vector<CustomerRow> customers;
  {
    auto phase = timers.phase("customers");
    ParsedCustomers parsed = read_customers(comm, config, shard, rejects, reads);
    customers = keep_first_of_each_id(comm, std::move(parsed.rows), [](const CustomerRow& row) { return row.customer_id; }, rejects);
    counts.joined[InputFiles::customers] = customers.size();
  }
  const CustomerRanges ranges(comm, customers);

  // 2. Items: global category numbers, unique ids.
  std::vector<ItemRow> items;
  std::vector<std::string> categories;
  {
    auto phase = timers.phase("items");
    ParsedItems parsed = read_items(comm, config, shard, rejects, reads);
    categories = number_categories_globally(comm, parsed);
    items = keep_first_of_each_id(comm, std::move(parsed.rows), [](const ItemRow& row) { return row.item_id; }, rejects);
    counts.joined[InputFiles::items] = items.size();
  }

  // 3. Identity: one customer per key, and whether that customer exists.
  ResolvedIdentity identity;
  {
    auto phase = timers.phase("identity");
    ParsedIdentity parsed = read_identity(comm, config, channels, shard, rejects, reads);
    identity = resolve_identity(comm, std::move(parsed), budget, rejects);
    mark_known_customers(comm, identity, customers, join_options(config));
    counts.joined[InputFiles::identity] = identity.entries.size();
    result.identity_conflict_keys = comm.allreduce(identity.conflict_keys, engine::ReduceOp::sum);
  }

  // 4. Order lines ⋈ items ⋈ identity.
  ParsedOrders orders;
  {
    auto phase = timers.phase("read_orders");
    orders = read_orders(comm, config, channels, shard, rejects, reads);
    const auto lines_read = comm.allreduce(static_cast<std::uint64_t>(orders.lines.size()), engine::ReduceOp::sum);
    if (comm.is_root()) spdlog::info("integrate: {} order lines parsed", lines_read);
  }

  // Both joins are lookups: the lines stay where they were read, only keys and answers travel.
  FeatureInputs joined;
  std::vector<std::uint8_t> keyed(orders.lines.size(), 0);  // has an item and a channel key: ask the identity map
  {
    auto phase = timers.phase("join_items");
    // Every purchase line becomes a basket item (anonymous ones here, keyed ones after the identity
    // join): reserved once, the vector never moves while it grows.
    joined.basket_items.reserve(orders.lines.size());
    std::vector<std::uint64_t> item_ids(orders.lines.size());
    for (std::size_t i = 0; i < item_ids.size(); ++i) item_ids[i] = static_cast<std::uint64_t>(orders.lines[i].item_id);
    engine::JoinSide<ItemCategory, std::vector<std::uint64_t>> catalog;
    for (const auto& item : items) {
      catalog.rows.push_back({.category = item.category});
      catalog.keys.push_back(static_cast<std::uint64_t>(item.item_id));
    }
    const auto with_items = engine::lookup_join(comm, item_ids, {}, std::move(catalog), join_options(config));
    result.joins.push_back(join_summary(comm, "order lines x items", with_items));
    for (std::size_t i = 0; i < orders.lines.size(); ++i) {
      OrderLine& line = orders.lines[i];
      if (!with_items.found[i]) {
        rejects.push_back(reject_of(line.origin, RejectReason::unknown_item, order_item_role));
        continue;
      }
      line.category = with_items.values[i].category;
      if (line.anonymous) {  // in the baskets only
        ++counts.anonymous[line.origin.file_index];
        add_basket_item(line, joined.basket_items);
        continue;
      }
      keyed[i] = 1;
    }
  }

  {
    auto phase = timers.phase("join_identity");
    engine::JoinSide<IdentityEntry, engine::StringColumn> identity_map;
    identity_map.rows = std::move(identity.entries);
    identity_map.keys = std::move(identity.keys);
    const auto with_customers = engine::lookup_join(comm, orders.keys, keyed, std::move(identity_map), join_options(config));
    result.joins.push_back(join_summary(comm, "order lines x identity", with_customers));
    joined.lines.reserve(orders.lines.size());
    for (std::size_t i = 0; i < orders.lines.size(); ++i) {
      if (!keyed[i]) continue;
      const OrderLine& line = orders.lines[i];
      if (!with_customers.found[i]) {
        rejects.push_back(reject_of(line.origin, RejectReason::unknown_channel_key, order_key_role));
        continue;
      }
      const IdentityEntry& entry = with_customers.values[i];
      if (!entry.customer_known) {
        rejects.push_back(reject_of(line.origin, RejectReason::unknown_customer, order_key_role));
        continue;
      }
      ++counts.joined[line.origin.file_index];
      add_basket_item(line, joined.basket_items);
      joined.lines.push_back({.customer_id = entry.customer_id, .order_id = line.order_id, .ts_seconds = line.ts_seconds,
                              .value_units = line.value_units, .category = line.category, .channel = line.channel,
                              .purchase = line.purchase != 0});
    }
    orders = {};
  }

  {
    auto phase = timers.phase("features");
    const features::FeatureSchema schema = customer_features(comm, config, channels, categories, customers, ranges,
                                                             budget, joined.lines, result);
    result.feature_names = features::feature_names(schema);
    result.top_categories = schema.category_names;
    result.customers_with_features =
        comm.allreduce(static_cast<std::uint64_t>(result.features.customer_ids.size()), engine::ReduceOp::sum);
    joined.lines = {};
  }
  {
    auto phase = timers.phase("baskets");
    result.baskets = features::build_baskets(comm, std::move(joined.basket_items));
    result.baskets_total = comm.allreduce(result.baskets.baskets, engine::ReduceOp::sum);
  }
  result.accounting = account(comm, files, reads, std::move(counts), rejects);
  return result;
}

}  // namespace omniseg::jobs
