// The per-customer feature kernels against a brute-force group-by over the same lines, with the
// lines cut into partials the way ranks would see them.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "algorithms/features/customer_features.hpp"

namespace omniseg::features {
namespace {

using engine::Int128;

std::vector<FeatureLine> random_lines(std::mt19937_64& random, int customers, int lines) {
  std::vector<FeatureLine> result;
  std::uniform_int_distribution<int> customer(0, customers - 1), channel(0, 2), category(0, 5), basket(1, 4);
  std::uniform_int_distribution<std::int64_t> value(-5'000'000, 90'000'000), ts(1'600'000'000, 1'700'000'000);
  while (static_cast<int>(result.size()) < lines) {
    // An order: its lines together, like an export lists them.
    const std::int64_t customer_id = 1000 + 7 * customer(random);
    const std::uint16_t order_channel = static_cast<std::uint16_t>(channel(random));
    const std::int64_t order_id = static_cast<std::int64_t>(random() % 200);  // repeats across customers
    const std::int64_t order_ts = ts(random);
    for (int i = basket(random); i > 0; --i) {
      const std::int64_t v = value(random);
      result.push_back(FeatureLine{.customer_id = customer_id, .order_id = order_id, .ts_seconds = order_ts + i,
                                   .value_units = v, .category = static_cast<std::uint32_t>(category(random)),
                                   .channel = order_channel, .purchase = v > 0});
    }
  }
  return result;
}

struct Reference {
  std::set<std::pair<int, std::int64_t>> orders;
  std::int64_t last_ts = INT64_MIN;
  Int128 net = 0, gross = 0;
  std::map<int, Int128> channel_gross, category_gross;
};

TEST(CustomerFeatures, PartialsMergedEqualBruteForce) {
  std::mt19937_64 random(7);
  for (int trial = 0; trial < 20; ++trial) {
    const int customers = 1 + trial * 3;
    std::vector<FeatureLine> lines = random_lines(random, customers, 50 + trial * 40);
    std::shuffle(lines.begin(), lines.end(), random);  // orders split: the merge must put them back together

    // Brute force.
    std::map<std::int64_t, Reference> reference;
    for (const auto& line : lines) {
      Reference& r = reference[line.customer_id];
      r.orders.insert({line.channel, line.order_id});
      r.last_ts = std::max(r.last_ts, line.ts_seconds);
      r.net += line.value_units;
      if (line.purchase) {
        r.gross += line.value_units;
        r.channel_gross[line.channel] += line.value_units;
        r.category_gross[static_cast<int>(line.category)] += line.value_units;
      }
    }
    // Top 3 categories by gross value over everything.
    std::vector<Int128> per_category(6, 0);
    for (const auto& line : lines) if (line.purchase) per_category[line.category] += line.value_units;
    const std::vector<std::string> category_names{"f", "e", "d", "c", "b", "a"};
    const auto top = top_categories(per_category, category_names, 3);
    ASSERT_EQ(top.size(), 3U);
    std::vector<int> slot_of_category(6, -1);
    for (std::size_t s = 0; s < top.size(); ++s) slot_of_category[top[s]] = static_cast<int>(s);
    for (std::size_t s = 1; s < top.size(); ++s) EXPECT_GE(per_category[top[s - 1]], per_category[top[s]]);

    // Kernels on random pieces, as ranks would hold them.
    std::vector<OrderTotals> orders;
    std::vector<CategorySpend> spend;
    std::size_t begin = 0;
    while (begin < lines.size()) {
      const std::size_t end = std::min(lines.size(), begin + 1 + random() % 40);
      const std::span<const FeatureLine> piece(lines.data() + begin, end - begin);
      total_orders(piece, orders);
      const auto piece_spend = category_spend(piece, slot_of_category);
      spend.insert(spend.end(), piece_spend.begin(), piece_spend.end());
      begin = end;
    }
    merge_order_totals(orders);
    merge_category_spend(spend);

    std::vector<CustomerFacts> facts;
    for (int c = 0; c < customers + 2; ++c) facts.push_back({.customer_id = 1000 + 7 * c, .signup_days = 18000 + c});
    const FeatureSchema schema{.channel_names = {"web", "app", "store"},
                               .category_names = {category_names[top[0]], category_names[top[1]], category_names[top[2]]},
                               .as_of_days = 20000};
    const FeatureRows rows = feature_rows(facts, orders, spend, schema);
    const std::size_t width = feature_names(schema).size();
    ASSERT_EQ(width, 11U);
    ASSERT_EQ(rows.customer_ids.size(), reference.size());
    ASSERT_EQ(rows.matrix.size(), reference.size() * width);
    std::size_t row = 0;
    for (const auto& [customer_id, r] : reference) {
      SCOPED_TRACE(customer_id);
      ASSERT_EQ(rows.customer_ids[row], customer_id);
      const double* x = rows.matrix.data() + row * width;
      const double monetary = static_cast<double>(r.net) / 10000.0;
      EXPECT_EQ(x[0], static_cast<double>(20000LL * 86400 - r.last_ts) / 86400.0);
      EXPECT_EQ(x[1], static_cast<double>(r.orders.size()));
      EXPECT_EQ(x[2], monetary);
      EXPECT_EQ(x[3], monetary / static_cast<double>(r.orders.size()));
      EXPECT_EQ(x[4], static_cast<double>(20000 - (18000 + (customer_id - 1000) / 7)));
      for (int c = 0; c < 3; ++c) {
        const Int128 part = r.channel_gross.contains(c) ? r.channel_gross.at(c) : 0;
        EXPECT_EQ(x[5 + c], r.gross > 0 ? static_cast<double>(part) / static_cast<double>(r.gross) : 0.0);
      }
      for (int s = 0; s < 3; ++s) {
        const int category = static_cast<int>(top[static_cast<std::size_t>(s)]);
        const Int128 part = r.category_gross.contains(category) ? r.category_gross.at(category) : 0;
        EXPECT_EQ(x[8 + s], r.gross > 0 ? static_cast<double>(part) / static_cast<double>(r.gross) : 0.0);
      }
      ++row;
    }
  }
}

TEST(CustomerFeatures, IdsSpanningTheWholeRangeGiveTheSameFeatures) {
  // Ids far apart do not pack into one 64-bit sort key: the kernels sort by comparison then. Both
  // ways must agree: the same lines with ids mapped in order to the edges of the int64 range give
  // the same rows.
  const auto wide_customer = [](std::int64_t id) { return INT64_MIN + (id - 1000) / 7 * (std::int64_t{1} << 56); };
  const auto wide_order = [](std::int64_t id) { return INT64_MIN / 2 + id * (std::int64_t{1} << 54); };
  std::mt19937_64 random(17);
  for (int trial = 0; trial < 10; ++trial) {
    const int customers = 2 + trial * 5;
    std::vector<FeatureLine> lines = random_lines(random, customers, 100 + trial * 60);
    std::shuffle(lines.begin(), lines.end(), random);
    std::vector<FeatureLine> wide = lines;
    for (auto& line : wide) {
      line.customer_id = wide_customer(line.customer_id);
      line.order_id = wide_order(line.order_id);
    }
    const std::vector<int> slot_of_category{2, -1, 0, 1, -1, 3};
    const FeatureSchema schema{.channel_names = {"web", "app", "store"}, .category_names = {"a", "b", "c", "d"},
                               .as_of_days = 20000};
    std::vector<CustomerFacts> facts, wide_facts;
    for (int c = 0; c < customers; ++c) {
      facts.push_back({.customer_id = 1000 + 7 * c, .signup_days = 18000 + c});
      wide_facts.push_back({.customer_id = wide_customer(1000 + 7 * c), .signup_days = 18000 + c});
    }
    const auto features_of = [&](const std::vector<FeatureLine>& input, const std::vector<CustomerFacts>& who) {
      std::vector<OrderTotals> orders;
      std::vector<CategorySpend> spend;
      const std::size_t half = input.size() / 2;  // two pieces, as two ranks would hold them
      for (const auto piece : {std::span(input).first(half), std::span(input).subspan(half)}) {
        total_orders(piece, orders);
        const auto piece_spend = category_spend(piece, slot_of_category);
        spend.insert(spend.end(), piece_spend.begin(), piece_spend.end());
      }
      merge_order_totals(orders);
      merge_category_spend(spend);
      // Merging merged (sorted) partials again changes nothing.
      const auto orders_once = orders.size();
      const auto spend_once = spend.size();
      merge_order_totals(orders);
      merge_category_spend(spend);
      EXPECT_EQ(orders.size(), orders_once);
      EXPECT_EQ(spend.size(), spend_once);
      return feature_rows(who, orders, spend, schema);
    };
    const FeatureRows narrow_rows = features_of(lines, facts);
    const FeatureRows wide_rows = features_of(wide, wide_facts);
    ASSERT_EQ(wide_rows.customer_ids.size(), narrow_rows.customer_ids.size());
    for (std::size_t r = 0; r < narrow_rows.customer_ids.size(); ++r) {
      EXPECT_EQ(wide_rows.customer_ids[r], wide_customer(narrow_rows.customer_ids[r]));
    }
    EXPECT_EQ(wide_rows.matrix, narrow_rows.matrix);
  }
}

TEST(CustomerFeatures, TopCategoriesBreakTiesByNameAndSkipUnsold) {
  const std::vector<Int128> gross{5, 9, 5, 0, 9};
  const std::vector<std::string> names{"toys", "food", "garden", "books", "drinks"};
  EXPECT_EQ(top_categories(gross, names, 8), (std::vector<std::uint32_t>{4, 1, 2, 0}));
  EXPECT_EQ(top_categories(gross, names, 2), (std::vector<std::uint32_t>{4, 1}));
  EXPECT_TRUE(top_categories(gross, names, 0).empty());
}

TEST(CustomerFeatures, OnlyReturnsGiveZeroSharesAndNegativeMonetary) {
  const std::vector<FeatureLine> lines{
      {.customer_id = 5, .order_id = 1, .ts_seconds = 86400, .value_units = -25000, .category = 0, .channel = 1, .purchase = false}};
  std::vector<OrderTotals> orders;
  total_orders(lines, orders);
  merge_order_totals(orders);
  const std::vector<int> slots{0};
  const auto spend = category_spend(lines, slots);
  EXPECT_TRUE(spend.empty());
  const std::vector<CustomerFacts> facts{{.customer_id = 5, .signup_days = 0}};
  const FeatureSchema schema{.channel_names = {"web", "app"}, .category_names = {"x"}, .as_of_days = 3};
  const auto rows = feature_rows(facts, orders, spend, schema);
  ASSERT_EQ(rows.customer_ids, std::vector<std::int64_t>{5});
  EXPECT_EQ(rows.matrix, (std::vector<double>{2.0, 1.0, -2.5, -2.5, 3.0, 0.0, 0.0, 0.0}));
}

}  // namespace
}  // namespace omniseg::features
