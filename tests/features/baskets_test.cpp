// Baskets built across ranks equal a single-process sort and format of all items, whatever the
// split: baskets cut by the block distribution, ranks without items, one huge basket.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "algorithms/features/baskets.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::features {
namespace {

std::string reference_text(const std::vector<BasketItem>& all) {
  std::map<std::pair<std::uint32_t, std::int64_t>, std::set<std::int64_t>> baskets;
  for (const auto& item : all) baskets[{item.channel, item.order_id}].insert(item.item_id);
  std::string text;
  for (const auto& [key, items] : baskets) {
    std::string line;
    for (const auto item : items) line += (line.empty() ? "" : " ") + std::to_string(item);
    text += line + "\n";
  }
  return text;
}

void check(const std::vector<BasketItem>& all, const std::vector<int>& owner) {
  const auto& comm = testing::world();
  std::vector<BasketItem> mine;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (owner[i] % comm.size() == comm.rank()) mine.push_back(all[i]);
  }
  const BasketText local = build_baskets(comm, mine);
  const auto gathered = comm.gatherv(std::span<const char>(local.text.data(), local.text.size()));
  const auto baskets = comm.allreduce(local.baskets, engine::ReduceOp::sum);
  if (comm.is_root()) {
    const std::string expected = reference_text(all);
    EXPECT_EQ(std::string(gathered.data.begin(), gathered.data.end()), expected);
    EXPECT_EQ(baskets, static_cast<std::uint64_t>(std::count(expected.begin(), expected.end(), '\n')));
  }
}

TEST(Baskets, RandomItemsOnRandomRanks) {
  std::mt19937_64 random(11);
  for (int trial = 0; trial < 30; ++trial) {
    std::vector<BasketItem> all;
    std::vector<int> owner;
    const int n = static_cast<int>(random() % 300);
    for (int i = 0; i < n; ++i) {
      all.push_back({.channel = static_cast<std::uint32_t>(random() % 3), .order_id = static_cast<std::int64_t>(random() % 20),
                     .item_id = static_cast<std::int64_t>(random() % 15)});
      owner.push_back(static_cast<int>(random() % 4));
    }
    check(all, owner);
  }
}

TEST(Baskets, OneBasketSpanningEveryRankAndEmptyRanks) {
  std::vector<BasketItem> all;
  std::vector<int> owner;
  for (int i = 0; i < 400; ++i) {
    all.push_back({.channel = 1, .order_id = 42, .item_id = i % 97});
    owner.push_back(i % 4);
  }
  all.push_back({.channel = 0, .order_id = 7, .item_id = 3});
  owner.push_back(3);
  all.push_back({.channel = 2, .order_id = -1, .item_id = 3});
  owner.push_back(0);
  check(all, owner);
  check({}, {});
  // Everything on the last rank.
  std::vector<int> last(all.size(), 3);
  check(all, last);
}

TEST(Baskets, IdsNearZeroAndNearTheEdgesOfTheInt64Range) {
  // Narrow ranges (around zero: negative ids; far from zero) pack into 64-bit keys; ranges spanning
  // all of int64 do not and take the comparison sort. All give the reference text.
  enum class Ids { around_zero, far_from_zero, spanning };
  std::mt19937_64 random(13);
  for (const Ids ids : {Ids::around_zero, Ids::far_from_zero, Ids::spanning}) {
    for (int trial = 0; trial < 10; ++trial) {
      std::vector<BasketItem> all;
      std::vector<int> owner;
      const int n = static_cast<int>(random() % 400);
      for (int i = 0; i < n; ++i) {
        const auto order = static_cast<std::int64_t>(random() % 30);
        const auto item = static_cast<std::int64_t>(random() % 25);
        BasketItem basket_item{.channel = static_cast<std::uint32_t>(random() % 3)};
        switch (ids) {
          case Ids::around_zero:
            basket_item.order_id = order - 15;
            basket_item.item_id = item - 12;
            break;
          case Ids::far_from_zero:
            basket_item.order_id = INT64_MAX - order;
            basket_item.item_id = INT64_MIN + item;
            break;
          case Ids::spanning:
            basket_item.order_id = INT64_MIN + order * (INT64_MAX / 32);
            basket_item.item_id = INT64_MAX - item * (INT64_MAX / 25);
            break;
        }
        all.push_back(basket_item);
        owner.push_back(static_cast<int>(random() % 4));
      }
      check(all, owner);
    }
  }
}

}  // namespace
}  // namespace omniseg::features
