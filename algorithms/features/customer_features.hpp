// algorithms/features/customer_features.hpp — per-customer features from joined order lines.
//
// Owns: the local kernels of the group-by-customer step. A rank first reduces its own lines to
// partial records — one per (customer, channel, order) and one per (customer, top category) — so
// that a whale customer's millions of lines never travel to one rank; the partials go to the
// customer's owner rank (jobs/integrate_pipeline.cpp moves them), which merges them and computes
// one feature row per customer. Every amount is an exact integer (money in units of 1e-4), so the
// features are the same bits on any number of ranks.
// Does not own: parsing, joining, or where customers live (the caller passes the owner function
// and the customers it owns, sorted by id), nor writing the matrix (jobs/).
//
// Feature definitions (docs/formats.md, "omniseg integrate"):
//   recency_days      (as_of midnight UTC − last order timestamp) / 86400
//   frequency         number of distinct (channel, order_id)
//   monetary          Σ quantity × unit_price over all lines, returns negative
//   avg_basket_value  monetary / frequency
//   tenure_days       as_of − signup_date
//   share_<channel>   gross purchase value (lines with quantity > 0) in the channel / all gross value
//   cat_<category>    gross purchase value in the category / all gross value, top C categories
// Shares are 0 for a customer without purchases (only returns).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/exact_sum.hpp"

namespace omniseg::features {

/// Money in exact integer units: 1 unit = 1e-4 of the currency (four decimal places).
inline constexpr std::int64_t money_units_per_currency_unit = 10000;

/// What the feature kernels read of a joined order line.
struct FeatureLine {
  std::int64_t customer_id = 0;
  std::int64_t order_id = 0;
  std::int64_t ts_seconds = 0;   ///< UTC seconds since the epoch
  std::int64_t value_units = 0;  ///< quantity × unit price, in money units; negative for returns
  std::uint32_t category = 0;    ///< index into the category names
  std::uint16_t channel = 0;     ///< index into the channel names
  bool purchase = false;         ///< quantity > 0
};

/// One order of one customer (lines of several ranks may give several partials for one order).
struct OrderTotals {
  std::int64_t customer_id = 0;
  std::int64_t order_id = 0;
  std::int64_t last_ts_seconds = 0;
  engine::Int128 net_units = 0;    ///< Σ value over all lines
  engine::Int128 gross_units = 0;  ///< Σ value over purchase lines
  std::uint32_t channel = 0;
  std::uint32_t pad = 0;
};

/// Gross purchase value of one customer in one top category (slot 0 .. C-1).
struct CategorySpend {
  std::int64_t customer_id = 0;
  engine::Int128 gross_units = 0;
  std::uint32_t slot = 0;
  std::uint32_t pad = 0;
};

/// Kernel: adds consecutive lines of the same (customer, channel, order) into one record each
/// (lines of one order usually arrive together); appends to `out`.
void total_orders(std::span<const FeatureLine> lines, std::vector<OrderTotals>& out);

/// Kernel: sorts by (customer, channel, order) and merges records of the same order into one.
void merge_order_totals(std::vector<OrderTotals>& totals);

/// Kernel: gross purchase value per (customer, slot) for lines whose category has a slot
/// (slot_of_category[c] < 0: not a top category). Sorted by (customer, slot), one record each.
[[nodiscard]] std::vector<CategorySpend> category_spend(std::span<const FeatureLine> lines,
                                                        std::span<const int> slot_of_category);

/// Kernel: sorts by (customer, slot) and merges equal keys.
void merge_category_spend(std::vector<CategorySpend>& spend);

/// Kernel: the `count` categories with the largest total gross value (ties: the smaller name
/// first), largest first; categories without any purchase are never chosen.
[[nodiscard]] std::vector<std::uint32_t> top_categories(std::span<const engine::Int128> gross_units_per_category,
                                                        std::span<const std::string> names, int count);

/// A customer as the feature rows need it.
struct CustomerFacts {
  std::int64_t customer_id = 0;
  std::int32_t signup_days = 0;  ///< days since 1970-01-01
};

struct FeatureSchema {
  std::vector<std::string> channel_names;   ///< share_<name> columns, in this order
  std::vector<std::string> category_names;  ///< cat_<name> columns: the top categories, in slot order
  std::int32_t as_of_days = 0;
};

/// Column names of the feature matrix, in order.
[[nodiscard]] std::vector<std::string> feature_names(const FeatureSchema& schema);

/// Kernel: the feature rows of the customers in `customers` (sorted by id) that have at least one
/// order in `orders`. `orders` and `spend` are merged (see above) and hold only those customers.
/// Returns the ids of the rows and the row-major matrix [rows × feature_names().size()].
struct FeatureRows {
  std::vector<std::int64_t> customer_ids;
  std::vector<double> matrix;
};
[[nodiscard]] FeatureRows feature_rows(std::span<const CustomerFacts> customers, std::span<const OrderTotals> orders,
                                       std::span<const CategorySpend> spend, const FeatureSchema& schema);

}  // namespace omniseg::features
