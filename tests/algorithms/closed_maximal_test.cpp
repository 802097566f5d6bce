// Closed and maximal itemsets at 1-4 ranks. The kernel on hand-made cover records; the driver
// against a brute-force reference that applies the definitions to every pair of frequent itemsets
// (no one-item-extension shortcut), on PFP output and on hand-split lists with empty ranks, with
// size limits in both meanings, tiny exchange budgets, nothing frequent and broken input; and on
// chess and mushroom against extension supports counted with per-item transaction bitsets.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "algorithms/fim/closed_maximal.hpp"
#include "engine/block_distribution.hpp"
#include "engine/errors.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::fim {
namespace {

using engine::BlockDistribution;

constexpr CondensedKind both_kinds[] = {CondensedKind::closed, CondensedKind::maximal};

struct Itemset {
  std::vector<ItemId> items;
  std::uint64_t support;
  friend bool operator==(const Itemset&, const Itemset&) = default;
};

bool canonical_itemset_less(const Itemset& a, const Itemset& b) { return canonical_less(a.items, b.items); }

const char* name_of(CondensedKind kind) { return kind == CondensedKind::closed ? "closed" : "maximal"; }

// ---- the kernel ---------------------------------------------------------------------------------

ItemsetList<ItemId> list_of(const std::vector<Itemset>& itemsets) {
  ItemsetList<ItemId> list;
  for (const auto& set : itemsets) list.add(set.items, set.support);
  return list;
}

TEST(ClosedMaximalKernel, MarksSubsetsNamedByCovers) {
  // {1}:5 {2}:4 {3}:3 | {1,2}:4 {1,3}:2 {2,3}:3
  const auto list = list_of({{{1}, 5}, {{2}, 4}, {{3}, 3}, {{1, 2}, 4}, {{1, 3}, 2}, {{2, 3}, 3}});
  // The 1-subsets of the three 2-itemsets, in no particular order.
  const std::vector<std::uint64_t> words{4, 2, 4, 1, 2, 3, 2, 1, 3, 3, 3, 2};
  const CoverRecords covers{.subset_size = 1, .words = words};
  ASSERT_EQ(covers.size(), 6u);

  std::vector<std::uint8_t> covered(list.size(), 0);
  EXPECT_EQ(mark_covered(list, 0, 3, covers, CondensedKind::closed, covered), 0u);
  // {1} (5) is covered only with supports 4 and 2; {2} and {3} by sets of equal support.
  EXPECT_EQ(covered, (std::vector<std::uint8_t>{0, 1, 1, 0, 0, 0}));

  covered.assign(list.size(), 0);
  EXPECT_EQ(mark_covered(list, 0, 3, covers, CondensedKind::maximal, covered), 0u);
  EXPECT_EQ(covered, (std::vector<std::uint8_t>{1, 1, 1, 0, 0, 0}));

  // A 2-subset of {1,2,3}:2 names {1,3} with equal support; the others have larger supports.
  const std::vector<std::uint64_t> pairs{2, 2, 3, 2, 1, 3, 2, 1, 2};
  covered.assign(list.size(), 0);
  EXPECT_EQ(mark_covered(list, 3, 6, {.subset_size = 2, .words = pairs}, CondensedKind::closed, covered), 0u);
  EXPECT_EQ(covered, (std::vector<std::uint8_t>{0, 0, 0, 0, 1, 0}));
}

TEST(ClosedMaximalKernel, CountsRecordsThatContradictTheList) {
  const auto list = list_of({{{1}, 5}, {{3}, 3}, {{1, 3}, 2}});
  std::vector<std::uint8_t> covered(list.size(), 0);
  // {2} is not listed; {3} cannot be covered by a set of support 4 > 3; {1} with 5 is fine.
  const std::vector<std::uint64_t> words{1, 2, 4, 3, 5, 1};
  for (const CondensedKind kind : both_kinds) {
    covered.assign(list.size(), 0);
    EXPECT_EQ(mark_covered(list, 0, 2, {.subset_size = 1, .words = words}, kind, covered), 2u)
        << name_of(kind);
    EXPECT_EQ(covered, (std::vector<std::uint8_t>{1, 0, 0})) << name_of(kind);
  }
  // Outside the range counts as missing too; no records, nothing marked.
  covered.assign(list.size(), 0);
  EXPECT_EQ(mark_covered(list, 0, 0, {.subset_size = 1, .words = words}, CondensedKind::maximal, covered),
            3u);
  EXPECT_EQ(mark_covered(list, 0, 2, {.subset_size = 1, .words = {}}, CondensedKind::maximal, covered), 0u);
  EXPECT_EQ(covered, (std::vector<std::uint8_t>{0, 0, 0}));
}

TEST(ClosedMaximalKernel, CollectsDistinctSubsetsWithTheLargestSupport) {
  // {1,2}:4 {1,3}:2 {2,3}:3 | {1,2,3}:2 {1,2,4}:1
  const auto list = list_of({{{1, 2}, 4}, {{1, 3}, 2}, {{2, 3}, 3}, {{1, 2, 3}, 2}, {{1, 2, 4}, 1}});
  // Each 1-subset once, with the largest support among the pairs containing it, in order of first
  // appearance ({1,2} gives {2} then {1}).
  EXPECT_EQ(collect_covers(list, 0, 3), (std::vector<std::uint64_t>{4, 2, 4, 1, 3, 3}));
  EXPECT_EQ(collect_covers(list, 1, 2), (std::vector<std::uint64_t>{2, 3, 2, 1}));
  EXPECT_EQ(collect_covers(list, 3, 5),
            (std::vector<std::uint64_t>{2, 2, 3, 2, 1, 3, 2, 1, 2, 1, 2, 4, 1, 1, 4}));
  EXPECT_TRUE(collect_covers(list, 2, 2).empty());
  // The records fed straight back: {2} and {3} have a pair of equal support, {1} (5) has none.
  const auto records = collect_covers(list, 0, 3);
  const auto singles = list_of({{{1}, 5}, {{2}, 4}, {{3}, 3}});
  std::vector<std::uint8_t> covered(singles.size(), 0);
  const CoverRecords covers{.subset_size = 1, .words = records};
  EXPECT_EQ(mark_covered(singles, 0, 3, covers, CondensedKind::closed, covered), 0u);
  EXPECT_EQ(covered, (std::vector<std::uint8_t>{0, 1, 1}));
}

// ---- brute force --------------------------------------------------------------------------------

/// The same random transactions on every rank: at most 10 distinct items with sparse, large ids,
/// each transaction ascending.
std::vector<std::vector<ItemId>> random_data(std::uint64_t seed, int count, int universe, double density) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution take(density);
  std::vector<std::vector<ItemId>> data(static_cast<std::size_t>(count));
  for (auto& transaction : data) {
    for (int item = 0; item < universe; ++item) {
      // Some items much more frequent than others, so that equal supports (non-closed sets) occur.
      if (take(rng) || (item % 3 == 0 && take(rng)) || (item == 1 && take(rng))) {
        transaction.push_back((ItemId{static_cast<unsigned>(item) % 2} << 45) +
                              104729 * static_cast<ItemId>(item + 1));
      }
    }
    std::sort(transaction.begin(), transaction.end());
  }
  return data;
}

struct MaskedItemset {
  std::uint32_t mask;  // over the data's distinct items in ascending id order
  Itemset itemset;
};

/// Every frequent itemset of the data, by counting every subset of its items; canonical order.
std::vector<MaskedItemset> brute_force_frequent(const std::vector<std::vector<ItemId>>& data,
                                                std::uint64_t min_support) {
  std::vector<ItemId> universe;
  for (const auto& transaction : data) {
    universe.insert(universe.end(), transaction.begin(), transaction.end());
  }
  std::sort(universe.begin(), universe.end());
  universe.erase(std::unique(universe.begin(), universe.end()), universe.end());
  EXPECT_LE(universe.size(), 12u);
  std::vector<std::uint32_t> transaction_masks;
  for (const auto& transaction : data) {
    std::uint32_t mask = 0;
    for (const ItemId item : transaction) {
      mask |= 1u << (std::lower_bound(universe.begin(), universe.end(), item) - universe.begin());
    }
    transaction_masks.push_back(mask);
  }
  std::vector<MaskedItemset> frequent;
  for (std::uint32_t mask = 1; mask < (1u << universe.size()); ++mask) {
    std::uint64_t support = 0;
    for (const std::uint32_t transaction : transaction_masks) support += (transaction & mask) == mask ? 1 : 0;
    if (support < min_support) continue;
    MaskedItemset found{mask, {{}, support}};
    for (std::size_t i = 0; i < universe.size(); ++i) {
      if (mask >> i & 1) found.itemset.items.push_back(universe[i]);
    }
    frequent.push_back(found);
  }
  std::sort(frequent.begin(), frequent.end(), [](const MaskedItemset& a, const MaskedItemset& b) {
    return canonical_itemset_less(a.itemset, b.itemset);
  });
  return frequent;
}

/// The definition, applied to every pair: among the frequent itemsets of size <= decided_up_to
/// (0: all), those with no proper superset in that family (of equal support, for closed); only
/// those of size <= returned_up_to (0: all) are returned.
std::vector<Itemset> reference(const std::vector<MaskedItemset>& frequent, CondensedKind kind,
                               std::uint32_t decided_up_to, std::uint32_t returned_up_to) {
  auto within = [](const MaskedItemset& set, std::uint32_t limit) {
    return limit == 0 || set.itemset.items.size() <= limit;
  };
  std::vector<Itemset> kept;
  for (const auto& x : frequent) {
    if (!within(x, decided_up_to) || !within(x, returned_up_to)) continue;
    const bool dominated = std::any_of(frequent.begin(), frequent.end(), [&](const MaskedItemset& z) {
      return within(z, decided_up_to) && z.mask != x.mask && (z.mask & x.mask) == x.mask &&
             (kind == CondensedKind::maximal || z.itemset.support == x.itemset.support);
    });
    if (!dominated) kept.push_back(x.itemset);
  }
  return kept;
}

std::vector<Itemset> itemsets_of(const std::vector<MaskedItemset>& frequent) {
  std::vector<Itemset> itemsets;
  for (const auto& set : frequent) itemsets.push_back(set.itemset);
  return itemsets;
}

// ---- running the driver -------------------------------------------------------------------------

/// Every rank's block in rank order, with the facts checked: totals, offsets, sizes and (for
/// results of keep_closed_or_maximal, not of PFP) blocks of equal size.
std::vector<Itemset> gather_checked(const FrequentItemsets& result, bool equal_blocks = true) {
  const auto& comm = testing::world();
  std::vector<std::uint64_t> flat;  // [size, support, items...] per itemset
  for (std::size_t i = 0; i < result.local.size(); ++i) {
    flat.push_back(result.local.sets[i].size());
    flat.push_back(result.local.support[i]);
    flat.insert(flat.end(), result.local.sets[i].begin(), result.local.sets[i].end());
  }
  const auto all = comm.allgatherv(flat).data;
  std::vector<Itemset> gathered;
  std::vector<std::uint64_t> by_size;
  for (std::size_t at = 0; at < all.size(); at += 2 + all[at]) {
    const auto begin = all.begin() + static_cast<std::ptrdiff_t>(at + 2);
    gathered.push_back(
        {std::vector<ItemId>(begin, begin + static_cast<std::ptrdiff_t>(all[at])), all[at + 1]});
    if (by_size.size() < all[at]) by_size.resize(all[at]);
    ++by_size[all[at] - 1];
  }
  EXPECT_EQ(result.total, gathered.size());
  EXPECT_EQ(result.by_size, by_size);
  EXPECT_EQ(result.first_index, comm.exclusive_prefix_sum(result.local.size()));
  if (equal_blocks) {
    EXPECT_EQ(result.local.size(), BlockDistribution(gathered.size(), comm.size()).range(comm.rank()).size());
  }
  return gathered;
}

std::vector<Itemset> condense(const FrequentItemsets& all, const ClosedMaximalOptions& options) {
  engine::PhaseTimers timers(testing::world());
  return gather_checked(keep_closed_or_maximal(testing::world(), all, options, timers));
}

FrequentItemsets mine(const std::vector<std::vector<ItemId>>& data, const MiningLimits& limits) {
  const auto& comm = testing::world();
  const auto range = BlockDistribution(data.size(), comm.size()).range(comm.rank());
  SetList<ItemId> local;
  for (std::uint64_t t = range.begin; t < range.end; ++t) local.push_back(data[t]);
  engine::PhaseTimers timers(comm);
  return mine_frequent_itemsets(comm, local, {.limits = limits, .groups_per_rank = 3}, timers);
}

/// This rank's part of a canonical list cut at `cuts` (ranks + 1 ascending indices, 0 to size).
FrequentItemsets split(const std::vector<Itemset>& list, const std::vector<std::uint64_t>& cuts) {
  const auto rank = static_cast<std::size_t>(testing::world().rank());
  FrequentItemsets part;
  for (std::uint64_t i = cuts[rank]; i < cuts[rank + 1]; ++i) part.local.add(list[i].items, list[i].support);
  part.first_index = cuts[rank];
  part.total = list.size();
  return part;
}

/// Cuts of `n` itemsets over the ranks: all on one rank, one each from rank 1, or random.
std::vector<std::vector<std::uint64_t>> interesting_cuts(std::uint64_t n, std::uint64_t seed) {
  const auto ranks = static_cast<std::size_t>(testing::world().size());
  std::vector<std::vector<std::uint64_t>> cuts;
  cuts.push_back(std::vector<std::uint64_t>(ranks + 1, n));  // everything on rank 0
  cuts.back().front() = 0;
  cuts.push_back(std::vector<std::uint64_t>(ranks + 1, 0));  // everything on the last rank
  cuts.back().back() = n;
  std::vector<std::uint64_t> singles{0, 0};  // rank 0 empty, then one itemset per rank, rest last
  for (std::size_t r = 2; r < ranks; ++r) singles.push_back(std::min<std::uint64_t>(n, r - 1));
  singles.resize(ranks + 1, 0);
  singles.back() = n;
  cuts.push_back(singles);
  std::mt19937_64 rng(seed);  // the same on every rank
  for (int round = 0; round < 3; ++round) {
    std::vector<std::uint64_t> random{0, n};
    std::uniform_int_distribution<std::uint64_t> at(0, n);
    for (std::size_t r = 1; r < ranks; ++r) random.push_back(at(rng));
    std::sort(random.begin(), random.end());
    cuts.push_back(random);
  }
  return cuts;
}

// ---- the driver against brute force -------------------------------------------------------------

TEST(ClosedMaximal, EqualsBruteForceOnMinedRandomData) {
  for (int round = 0; round < 16; ++round) {
    const auto data = random_data(700 + round, 12 + 7 * round, 6 + round % 5, 0.12 + 0.08 * (round % 6));
    for (const std::uint64_t support : {1, 3, 6}) {
      const auto frequent = brute_force_frequent(data, support);
      for (const std::uint32_t max_size : {0u, 2u, 3u}) {
        const auto mined = mine(data, {.min_support = support, .max_size = max_size});
        // The exact meaning under a size limit: mine one size more, return up to the limit.
        const auto mined_one_more = mine(data, {.min_support = support, .max_size = max_size + 1});
        for (const CondensedKind kind : both_kinds) {
          // Odd rounds exchange one superset's covers at a time: many rounds, unequal per rank.
          const std::uint64_t budget = round % 2 == 1 ? 1 : ClosedMaximalOptions{}.cover_budget_bytes;
          const std::string what = std::string(name_of(kind)) + " round " + std::to_string(round) +
                                   " support " + std::to_string(support) + " max size " +
                                   std::to_string(max_size);
          ASSERT_EQ(condense(mined, {.kind = kind, .cover_budget_bytes = budget}),
                    reference(frequent, kind, max_size, max_size))
              << what;
          if (max_size == 0) continue;
          ASSERT_EQ(
              condense(mined_one_more, {.kind = kind, .max_size = max_size, .cover_budget_bytes = budget}),
              reference(frequent, kind, 0, max_size))
              << what << " (exact)";
        }
      }
    }
  }
}

TEST(ClosedMaximal, AnySplitOfTheInputGivesTheSameResult) {
  for (int round = 0; round < 4; ++round) {
    const auto data = random_data(900 + round, 40, 8 + round % 3, 0.3);
    const auto frequent = brute_force_frequent(data, 2);
    const auto list = itemsets_of(frequent);
    for (const auto& cuts : interesting_cuts(list.size(), 17 + round)) {
      const auto part = split(list, cuts);
      for (const CondensedKind kind : both_kinds) {
        for (const std::uint64_t budget : {std::uint64_t{1}, std::uint64_t{200}, std::uint64_t{1} << 20}) {
          ASSERT_EQ(condense(part, {.kind = kind, .cover_budget_bytes = budget}),
                    reference(frequent, kind, 0, 0))
              << name_of(kind) << " round " << round << " budget " << budget;
        }
      }
    }
  }
}

TEST(ClosedMaximal, NothingFrequentAndSingleItems) {
  const auto& comm = testing::world();
  FrequentItemsets nothing;
  nothing.transactions = 7;
  engine::PhaseTimers timers(comm);
  for (const CondensedKind kind : both_kinds) {
    const auto result = keep_closed_or_maximal(comm, nothing, {.kind = kind}, timers);
    EXPECT_TRUE(gather_checked(result).empty());
    EXPECT_EQ(result.total, 0u);
    EXPECT_TRUE(result.by_size.empty());
    EXPECT_EQ(result.transactions, 7u);  // passed through
  }
  // Only single items: none has a listed superset, so all are closed and maximal.
  const std::vector<Itemset> singles{{{3}, 9}, {{1u << 20}, 9}, {{ItemId{1} << 50}, 4}};
  for (const auto& cuts : interesting_cuts(singles.size(), 5)) {
    for (const CondensedKind kind : both_kinds) {
      EXPECT_EQ(condense(split(singles, cuts), {.kind = kind}), singles);
    }
  }
  // A list mined from data where nothing is frequent.
  const std::vector<std::vector<ItemId>> data{{1, 2}, {3}};
  for (const CondensedKind kind : both_kinds) {
    EXPECT_TRUE(condense(mine(data, {.min_support = 2}), {.kind = kind}).empty());
  }
}

TEST(ClosedMaximal, IncompleteInputThrowsOnEveryRank) {
  // {2} is missing although {1, 2} is listed; then {2} is listed with a support below {1, 2}'s.
  const std::vector<Itemset> missing{{{1}, 3}, {{1, 2}, 2}};
  const std::vector<Itemset> smaller{{{1}, 3}, {{2}, 1}, {{1, 2}, 2}};
  for (const auto& list : {missing, smaller}) {
    for (const auto& cuts : interesting_cuts(list.size(), 3)) {
      for (const CondensedKind kind : both_kinds) {
        EXPECT_THROW(condense(split(list, cuts), {.kind = kind}), Error) << name_of(kind);
      }
    }
  }
}

// ---- real data ----------------------------------------------------------------------------------

/// Where the data sets live: $OMNISEG_DATASETS, else ../shared/datasets beside the repository.
std::filesystem::path datasets_directory() {
  if (const char* configured = std::getenv("OMNISEG_DATASETS")) return configured;
  const auto beside = std::filesystem::path(__FILE__).parent_path() / "../../../shared/datasets";
  return std::filesystem::exists(beside) ? beside : std::filesystem::path("/work/shared/datasets");
}

/// A FIMI file, read whole by every rank (small files only): one ascending transaction per line.
std::vector<std::vector<ItemId>> read_fimi(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<std::vector<ItemId>> data;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<ItemId> transaction;
    for (ItemId item = 0; words >> item;) transaction.push_back(item);
    std::sort(transaction.begin(), transaction.end());
    transaction.erase(std::unique(transaction.begin(), transaction.end()), transaction.end());
    if (!transaction.empty()) data.push_back(std::move(transaction));
  }
  return data;
}

/// Supports by counting: one bitset over the transactions per item.
class TransactionBitsets {
 public:
  explicit TransactionBitsets(const std::vector<std::vector<ItemId>>& data)
      : words_((data.size() + 63) / 64) {
    for (const auto& transaction : data) items_.insert(items_.end(), transaction.begin(), transaction.end());
    std::sort(items_.begin(), items_.end());
    items_.erase(std::unique(items_.begin(), items_.end()), items_.end());
    bits_.assign(items_.size() * words_, 0);
    for (std::size_t t = 0; t < data.size(); ++t) {
      for (const ItemId item : data[t]) {
        bits_[index_of(item) * words_ + t / 64] |= std::uint64_t{1} << (t % 64);
      }
    }
  }

  [[nodiscard]] const std::vector<ItemId>& items() const { return items_; }

  /// Transactions containing every item of `itemset` (none may be unknown).
  [[nodiscard]] std::vector<std::uint64_t> cover(std::span<const ItemId> itemset) const {
    std::vector<std::uint64_t> common(words_, ~std::uint64_t{0});
    for (const ItemId item : itemset) intersect(common, item);
    return common;
  }
  /// Transactions of `common` that also contain `item`.
  [[nodiscard]] std::uint64_t support_with(const std::vector<std::uint64_t>& common, ItemId item) const {
    const std::uint64_t* bits = bits_.data() + index_of(item) * words_;
    std::uint64_t support = 0;
    for (std::size_t w = 0; w < words_; ++w) {
      support += static_cast<std::uint64_t>(std::popcount(common[w] & bits[w]));
    }
    return support;
  }
  [[nodiscard]] static std::uint64_t support(const std::vector<std::uint64_t>& common,
                                             std::size_t transactions) {
    std::uint64_t support = 0;
    for (std::size_t t = 0; t < transactions; ++t) support += common[t / 64] >> (t % 64) & 1;
    return support;
  }

 private:
  [[nodiscard]] std::size_t index_of(ItemId item) const {
    return static_cast<std::size_t>(std::lower_bound(items_.begin(), items_.end(), item) - items_.begin());
  }
  void intersect(std::vector<std::uint64_t>& common, ItemId item) const {
    const std::uint64_t* bits = bits_.data() + index_of(item) * words_;
    for (std::size_t w = 0; w < words_; ++w) common[w] &= bits[w];
  }

  std::size_t words_;
  std::vector<ItemId> items_;
  std::vector<std::uint64_t> bits_;  // item i's transactions: bits_[i * words_, (i + 1) * words_)
};

/// Mines the data set, keeps the closed and the maximal itemsets, and checks them by counting:
/// closed ⊆ all, maximal ⊆ closed, every maximal set's one-item extensions are infrequent, and
/// both lists are exactly the sets whose extensions all have lower support (below min support).
void check_data_set(const std::string& relative_path, std::uint64_t min_support) {
  const auto data = read_fimi(datasets_directory() / relative_path);
  ASSERT_FALSE(data.empty()) << relative_path;
  const auto mined = mine(data, {.min_support = min_support});
  const auto all = gather_checked(mined, false);
  const auto closed = condense(mined, {.kind = CondensedKind::closed});
  const auto maximal = condense(mined, {.kind = CondensedKind::maximal});

  EXPECT_TRUE(std::includes(all.begin(), all.end(), closed.begin(), closed.end(), canonical_itemset_less));
  EXPECT_TRUE(
      std::includes(closed.begin(), closed.end(), maximal.begin(), maximal.end(), canonical_itemset_less));
  EXPECT_FALSE(maximal.empty());
  EXPECT_LT(closed.size(), all.size());  // both data sets have non-closed frequent itemsets

  const TransactionBitsets bitsets(data);
  std::vector<Itemset> expected_closed, expected_maximal;
  for (const Itemset& set : all) {
    const auto common = bitsets.cover(set.items);
    ASSERT_EQ(TransactionBitsets::support(common, data.size()), set.support) << relative_path;
    std::uint64_t best_extension = 0;  // the largest support of set ∪ {i}, i any item not in set
    for (const ItemId item : bitsets.items()) {
      if (std::binary_search(set.items.begin(), set.items.end(), item)) continue;
      best_extension = std::max(best_extension, bitsets.support_with(common, item));
    }
    if (best_extension < set.support) expected_closed.push_back(set);
    if (best_extension < min_support) expected_maximal.push_back(set);
  }
  EXPECT_EQ(closed, expected_closed) << relative_path;
  EXPECT_EQ(maximal, expected_maximal) << relative_path;
  if (testing::world().is_root()) {
    std::cout << relative_path << " at " << min_support << ": " << all.size() << " frequent, "
              << closed.size() << " closed, " << maximal.size() << " maximal\n";
  }
}

TEST(ClosedMaximalData, Chess2500) { check_data_set("chess/chess.dat", 2500); }

TEST(ClosedMaximalData, Mushroom4000) { check_data_set("mushroom/mushroom.dat", 4000); }

}  // namespace
}  // namespace omniseg::fim
