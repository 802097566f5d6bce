#include "algorithms/features/customer_features.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <tuple>

#include "engine/radix_sort.hpp"

namespace omniseg::features {
namespace {

bool same_order(const OrderTotals& a, const FeatureLine& line) {
  return a.customer_id == line.customer_id && a.order_id == line.order_id && a.channel == line.channel;
}

/// The nearest double (ties to even), as static_cast<double> gives it; values that fit in 64 bits
/// take the one-instruction conversion instead of the 128-bit library call — the same rounding.
double to_double(engine::Int128 value) {
  const bool fits = value >= INT64_MIN && value <= INT64_MAX;
  return fits ? static_cast<double>(static_cast<std::int64_t>(value)) : static_cast<double>(value);
}

double money(engine::Int128 units) {
  // The integer converts with one rounding; so does the division: the same bits everywhere.
  return to_double(units) / static_cast<double>(money_units_per_currency_unit);
}

double share(engine::Int128 part, engine::Int128 whole) {
  if (whole <= 0) return 0.0;
  return to_double(part) / to_double(whole);
}

// ---- sorting by packed keys ------------------------------------------------------------------------
// The merges sort millions of 48- and 64-byte records by a tuple of integers. Offset by their
// minima, the tuples of real data (ids in ranges of millions, a few channels and slots) fit in 64
// bits: then a radix sort of (key, index) pairs — 16 bytes each, constant bytes skipped — and one
// gather that combines equal keys on the way replace the comparison sort.

/// Order-preserving unsigned images of a record's key fields, most significant first.
template <std::size_t N>
using Fields = std::array<std::uint64_t, N>;

/// The ranges of the fields seen, and the packing of their offsets into one key when they fit.
template <std::size_t N>
class TuplePacking {
 public:
  TuplePacking() { minimum_.fill(~std::uint64_t{0}); }

  void include(const Fields<N>& fields) {
    for (std::size_t f = 0; f < N; ++f) {
      minimum_[f] = std::min(minimum_[f], fields[f]);
      maximum_[f] = std::max(maximum_[f], fields[f]);
    }
  }
  /// Call after the last include(): whether the offsets fit in 64 bits together.
  [[nodiscard]] bool finish() {
    int total = 0;
    for (std::size_t f = N; f-- > 0;) {
      shift_[f] = total;
      total += minimum_[f] > maximum_[f] ? 0 : static_cast<int>(std::bit_width(maximum_[f] - minimum_[f]));
    }
    return total <= 64;
  }
  [[nodiscard]] std::uint64_t key(const Fields<N>& fields) const {
    std::uint64_t key = 0;
    for (std::size_t f = 0; f < N; ++f) {
      if (shift_[f] < 64) key |= (fields[f] - minimum_[f]) << shift_[f];
    }
    return key;
  }

 private:
  Fields<N> minimum_{}, maximum_{};
  std::array<int, N> shift_{};
};

struct KeyIndex {
  std::uint64_t key = 0;
  std::uint64_t index = 0;
};

/// Sorts `records` by fields_of(record) (a Fields<N>) and combines records with equal fields into
/// the first of them with combine(kept, other). Input that is sorted already (one rank's partials)
/// is only combined.
template <class Record, class FieldsOf, class Combine>
void sort_and_combine(std::vector<Record>& records, FieldsOf fields_of, Combine combine) {
  constexpr std::size_t N = std::tuple_size_v<decltype(fields_of(records.front()))>;
  TuplePacking<N> packing;
  bool sorted = true;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto fields = fields_of(records[i]);
    packing.include(fields);
    if (i > 0 && fields < fields_of(records[i - 1])) sorted = false;
  }
  if (!sorted && packing.finish()) {
    std::vector<KeyIndex> order, scratch;
    order.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) order.push_back({.key = packing.key(fields_of(records[i])), .index = i});
    engine::radix_sort(order, scratch, [](const KeyIndex& entry) { return entry.key; });
    scratch = {};
    std::vector<Record> merged;
    merged.reserve(records.size());
    constexpr std::size_t prefetch_distance = 16;  // records are read in random order
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (i + prefetch_distance < order.size()) __builtin_prefetch(&records[order[i + prefetch_distance].index]);
      const Record& record = records[order[i].index];
      if (i > 0 && order[i].key == order[i - 1].key) {
        combine(merged.back(), record);
      } else {
        merged.push_back(record);
      }
    }
    records.swap(merged);
    return;
  }
  if (!sorted) {
    std::sort(records.begin(), records.end(), [&](const Record& a, const Record& b) { return fields_of(a) < fields_of(b); });
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (kept > 0 && fields_of(records[kept - 1]) == fields_of(records[i])) {
      combine(records[kept - 1], records[i]);
    } else {
      records[kept++] = records[i];
    }
  }
  records.resize(kept);
}

// Lambdas rather than functions: passed as template arguments, they inline.
constexpr auto order_fields = [](const OrderTotals& t) {
  return Fields<3>{engine::sortable_bits(t.customer_id), t.channel, engine::sortable_bits(t.order_id)};
};
constexpr auto spend_fields = [](const CategorySpend& s) { return Fields<2>{engine::sortable_bits(s.customer_id), s.slot}; };

constexpr auto add_order = [](OrderTotals& order, const OrderTotals& other) {
  order.last_ts_seconds = std::max(order.last_ts_seconds, other.last_ts_seconds);
  order.net_units += other.net_units;
  order.gross_units += other.gross_units;
};
constexpr auto add_spend = [](CategorySpend& spend, const CategorySpend& other) { spend.gross_units += other.gross_units; };

}  // namespace

void total_orders(std::span<const FeatureLine> lines, std::vector<OrderTotals>& out) {
  const std::size_t first = out.size();
  for (const FeatureLine& line : lines) {
    if (out.size() == first || !same_order(out.back(), line)) {
      out.push_back(OrderTotals{.customer_id = line.customer_id, .order_id = line.order_id,
                                .last_ts_seconds = line.ts_seconds, .channel = line.channel});
    }
    OrderTotals& order = out.back();
    order.last_ts_seconds = std::max(order.last_ts_seconds, line.ts_seconds);
    order.net_units += line.value_units;
    if (line.purchase) order.gross_units += line.value_units;
  }
}

void merge_order_totals(std::vector<OrderTotals>& totals) { sort_and_combine(totals, order_fields, add_order); }

std::vector<CategorySpend> category_spend(std::span<const FeatureLine> lines, std::span<const int> slot_of_category) {
  // One (customer, slot, value) per line: as a 16-byte pair whose key is the customer's image
  // shifted left by the slot bits, with the slot below. The bits shifted out must be the same for
  // every customer for the key to order like (customer, slot) — they are, unless ids span more
  // than 2^(64 - slot bits) — else the lines become records merged by merge_category_spend.
  int max_slot = -1;
  for (const int slot : slot_of_category) max_slot = std::max(max_slot, slot);
  const int slot_bits = max_slot <= 0 ? 0 : static_cast<int>(std::bit_width(static_cast<unsigned>(max_slot)));
  struct SpendPair {
    std::uint64_t key = 0;
    std::int64_t value_units = 0;
  };
  std::vector<SpendPair> pairs;
  pairs.reserve(lines.size());
  bool packable = true;
  std::uint64_t high_bits = 0;  // of the first customer
  for (const FeatureLine& line : lines) {
    if (!line.purchase) continue;
    if (line.category >= slot_of_category.size()) throw std::out_of_range("category_spend: category without a slot entry");
    const int slot = slot_of_category[line.category];
    if (slot < 0) continue;
    const std::uint64_t customer = engine::sortable_bits(line.customer_id);
    const std::uint64_t high = slot_bits == 0 ? 0 : customer >> (64 - slot_bits);
    if (pairs.empty()) high_bits = high;
    packable = packable && high == high_bits;
    pairs.push_back({.key = (customer << slot_bits) | static_cast<std::uint64_t>(slot), .value_units = line.value_units});
  }

  std::vector<CategorySpend> spend;
  if (!packable) {
    pairs = {};
    for (const FeatureLine& line : lines) {
      if (!line.purchase) continue;
      const int slot = slot_of_category[line.category];
      if (slot < 0) continue;
      spend.push_back(CategorySpend{.customer_id = line.customer_id, .gross_units = line.value_units,
                                    .slot = static_cast<std::uint32_t>(slot)});
    }
    merge_category_spend(spend);
    return spend;
  }
  std::vector<SpendPair> scratch;
  engine::radix_sort(pairs, scratch, [](const SpendPair& pair) { return pair.key; });
  scratch = {};
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) distinct += i == 0 || pairs[i].key != pairs[i - 1].key;
  spend.reserve(distinct);
  const std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0 && pairs[i].key == pairs[i - 1].key) {
      spend.back().gross_units += pairs[i].value_units;
      continue;
    }
    const std::uint64_t customer = slot_bits == 0 ? pairs[i].key : (high_bits << (64 - slot_bits)) | (pairs[i].key >> slot_bits);
    spend.push_back(CategorySpend{.customer_id = static_cast<std::int64_t>(customer ^ (std::uint64_t{1} << 63)),
                                  .gross_units = pairs[i].value_units,
                                  .slot = static_cast<std::uint32_t>(pairs[i].key & slot_mask)});
  }
  return spend;
}

void merge_category_spend(std::vector<CategorySpend>& spend) { sort_and_combine(spend, spend_fields, add_spend); }

std::vector<std::uint32_t> top_categories(std::span<const engine::Int128> gross_units_per_category,
                                          std::span<const std::string> names, int count) {
  if (gross_units_per_category.size() != names.size()) throw std::invalid_argument("top_categories: sizes differ");
  std::vector<std::uint32_t> order(names.size());
  std::iota(order.begin(), order.end(), 0U);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (gross_units_per_category[a] != gross_units_per_category[b]) {
      return gross_units_per_category[a] > gross_units_per_category[b];
    }
    return names[a] < names[b];
  });
  std::vector<std::uint32_t> top;
  for (const std::uint32_t category : order) {
    if (static_cast<int>(top.size()) == count || gross_units_per_category[category] <= 0) break;
    top.push_back(category);
  }
  return top;
}

std::vector<std::string> feature_names(const FeatureSchema& schema) {
  std::vector<std::string> names{"recency_days", "frequency", "monetary", "avg_basket_value", "tenure_days"};
  for (const auto& channel : schema.channel_names) names.push_back("share_" + channel);
  for (const auto& category : schema.category_names) names.push_back("cat_" + category);
  return names;
}

FeatureRows feature_rows(std::span<const CustomerFacts> customers, std::span<const OrderTotals> orders,
                         std::span<const CategorySpend> spend, const FeatureSchema& schema) {
  const std::size_t width = feature_names(schema).size();
  const std::size_t channels = schema.channel_names.size();
  const std::size_t first_channel_column = 5;
  const std::size_t first_category_column = first_channel_column + channels;
  const std::int64_t as_of_seconds = static_cast<std::int64_t>(schema.as_of_days) * 86400;

  // Rows: at most one per customer with orders. Reserved at once (pages are touched only when
  // written): growing a matrix of hundreds of megabytes row by row copies it several times.
  const std::size_t max_rows = std::min(customers.size(), orders.size());
  FeatureRows rows;
  rows.customer_ids.reserve(max_rows);
  rows.matrix.reserve(max_rows * width);
  std::vector<engine::Int128> channel_gross(channels);
  std::size_t next_order = 0, next_spend = 0;
  for (const CustomerFacts& customer : customers) {
    // Orders and spend are sorted by customer, like `customers`: one merge pass over all three.
    while (next_order < orders.size() && orders[next_order].customer_id < customer.customer_id) ++next_order;
    while (next_spend < spend.size() && spend[next_spend].customer_id < customer.customer_id) ++next_spend;
    if (next_order == orders.size() || orders[next_order].customer_id != customer.customer_id) continue;

    std::int64_t last_ts = orders[next_order].last_ts_seconds;
    engine::Int128 net = 0, gross = 0;
    std::uint64_t frequency = 0;
    std::fill(channel_gross.begin(), channel_gross.end(), 0);
    for (; next_order < orders.size() && orders[next_order].customer_id == customer.customer_id; ++next_order) {
      const OrderTotals& order = orders[next_order];
      last_ts = std::max(last_ts, order.last_ts_seconds);
      net += order.net_units;
      gross += order.gross_units;
      if (order.channel >= channels) throw std::out_of_range("feature_rows: channel index out of range");
      channel_gross[order.channel] += order.gross_units;
      ++frequency;
    }

    const std::size_t row = rows.customer_ids.size();
    rows.customer_ids.push_back(customer.customer_id);
    rows.matrix.resize((row + 1) * width, 0.0);
    double* out = rows.matrix.data() + row * width;
    const double monetary = money(net);
    out[0] = static_cast<double>(as_of_seconds - last_ts) / 86400.0;
    out[1] = static_cast<double>(frequency);
    out[2] = monetary;
    out[3] = monetary / static_cast<double>(frequency);
    out[4] = static_cast<double>(schema.as_of_days - customer.signup_days);
    for (std::size_t c = 0; c < channels; ++c) out[first_channel_column + c] = share(channel_gross[c], gross);
    for (; next_spend < spend.size() && spend[next_spend].customer_id == customer.customer_id; ++next_spend) {
      const std::size_t slot = spend[next_spend].slot;
      if (slot >= schema.category_names.size()) throw std::out_of_range("feature_rows: category slot out of range");
      out[first_category_column + slot] = share(spend[next_spend].gross_units, gross);
    }
  }
  return rows;
}

}  // namespace omniseg::features
