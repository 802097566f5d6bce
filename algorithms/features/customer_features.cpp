#include "algorithms/features/customer_features.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <tuple>

namespace omniseg::features {
namespace {

bool same_order(const OrderTotals& a, const FeatureLine& line) {
  return a.customer_id == line.customer_id && a.order_id == line.order_id && a.channel == line.channel;
}

auto order_key(const OrderTotals& t) { return std::tuple(t.customer_id, t.channel, t.order_id); }
auto spend_key(const CategorySpend& s) { return std::tuple(s.customer_id, s.slot); }

double money(engine::Int128 units) {
  // The integer converts with one rounding; so does the division: the same bits everywhere.
  return static_cast<double>(units) / static_cast<double>(money_units_per_currency_unit);
}

double share(engine::Int128 part, engine::Int128 whole) {
  if (whole <= 0) return 0.0;
  return static_cast<double>(part) / static_cast<double>(whole);
}

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

void merge_order_totals(std::vector<OrderTotals>& totals) {
  std::sort(totals.begin(), totals.end(), [](const OrderTotals& a, const OrderTotals& b) { return order_key(a) < order_key(b); });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < totals.size(); ++i) {
    if (kept > 0 && order_key(totals[kept - 1]) == order_key(totals[i])) {
      OrderTotals& order = totals[kept - 1];
      order.last_ts_seconds = std::max(order.last_ts_seconds, totals[i].last_ts_seconds);
      order.net_units += totals[i].net_units;
      order.gross_units += totals[i].gross_units;
    } else {
      totals[kept++] = totals[i];
    }
  }
  totals.resize(kept);
}

std::vector<CategorySpend> category_spend(std::span<const FeatureLine> lines, std::span<const int> slot_of_category) {
  std::vector<CategorySpend> spend;
  for (const FeatureLine& line : lines) {
    if (!line.purchase) continue;
    if (line.category >= slot_of_category.size()) throw std::out_of_range("category_spend: category without a slot entry");
    const int slot = slot_of_category[line.category];
    if (slot < 0) continue;
    spend.push_back(CategorySpend{.customer_id = line.customer_id, .gross_units = line.value_units,
                                  .slot = static_cast<std::uint32_t>(slot)});
  }
  merge_category_spend(spend);
  return spend;
}

void merge_category_spend(std::vector<CategorySpend>& spend) {
  std::sort(spend.begin(), spend.end(), [](const CategorySpend& a, const CategorySpend& b) { return spend_key(a) < spend_key(b); });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < spend.size(); ++i) {
    if (kept > 0 && spend_key(spend[kept - 1]) == spend_key(spend[i])) {
      spend[kept - 1].gross_units += spend[i].gross_units;
    } else {
      spend[kept++] = spend[i];
    }
  }
  spend.resize(kept);
}

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

  FeatureRows rows;
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
