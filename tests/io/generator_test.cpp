// The omnichannel generator: its pure kernels against brute-force references (every rank runs them
// alike), and the collective driver at the test's rank count against the single-process kernels:
// every file must hold exactly the bytes one process writes for the whole range, whatever the
// number of ranks (the golden comparison across rank counts through the executable is in
// tests/generate/generate_cli_test.py).
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/errors.hpp"
#include "io/hdf5.hpp"
#include "io/omnichannel_generator.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::io {
namespace {

const engine::Communicator& comm() { return testing::world(); }

OmnichannelOptions small_options(double dirty_rate) {
  return {.customers = 700, .items = 90, .order_lines = 9000, .seed = 11, .dirty_rate = dirty_rate, .whales = 2,
          .segments = 5};
}

std::string key_of(const OmnichannelModel& model, Channel channel, std::int64_t id, std::uint64_t name_bits) {
  std::array<char, OmnichannelModel::max_key_bytes> buffer{};
  return std::string(buffer.data(), model.format_channel_key(channel, id, name_bits, buffer.data()));
}

// ---- kernels -----------------------------------------------------------------------------------

TEST(GuidedDistribution, SamplesLikeALinearSearchOfTheCumulativeWeights) {
  std::mt19937_64 random(5);
  for (int trial = 0; trial < 50; ++trial) {
    const std::size_t n = 1 + random() % 300;
    std::vector<double> weights(n);
    for (auto& w : weights) w = (random() % 4 == 0) ? 0.0 : std::uniform_real_distribution<double>(0.01, 5)(random);
    weights[random() % n] = 1.0;  // a positive sum
    const GuidedDistribution distribution(weights);
    double total = 0;
    for (const double w : weights) total += w;
    for (int draw = 0; draw < 400; ++draw) {
      const double u = draw < 3 ? std::vector<double>{0.0, 0.5, 1.0 - 1e-16}[static_cast<std::size_t>(draw)]
                                : std::uniform_real_distribution<double>(0, 1)(random);
      // Reference: a linear search for the first index whose normalised cumulative weight exceeds u.
      // From the last positive weight on the cumulative value is exactly 1.
      std::size_t last_positive = n - 1;
      while (weights[last_positive] == 0.0) --last_positive;
      double cumulative = 0;
      std::size_t expected = n;
      for (std::size_t i = 0; i < n; ++i) {
        cumulative += weights[i];
        if ((i >= last_positive ? 1.0 : cumulative / total) > u) {
          expected = i;
          break;
        }
      }
      const std::size_t got = distribution.sample(u);
      ASSERT_EQ(got, expected) << "u = " << u << ", n = " << n;
      ASSERT_GT(weights[got], 0.0) << "a zero-weight index was sampled";
    }
  }
}

TEST(OmnichannelModel, CustomerIdsAreSparseIncreasingAndKeysHaveOneCustomerEach) {
  const OmnichannelModel model(small_options(0.1));
  std::map<std::string, std::int64_t> owner_of_key;
  std::int64_t previous = 0;
  int quoted_web_keys = 0;
  for (std::uint64_t c = 0; c < 20000; ++c) {
    const CustomerProfile customer = model.customer(c);
    ASSERT_GT(customer.id, previous);
    ASSERT_NE(customer.id % 4, 3) << "ids = 3 mod 4 are reserved for ghosts";
    previous = customer.id;
    ASSERT_GE(customer.channel_mask, 1);
    ASSERT_LE(customer.channel_mask, 7);
    ASSERT_LT(customer.segment, 5);
    for (std::size_t ch = 0; ch < channel_count; ++ch) {
      const auto channel = static_cast<Channel>(ch);
      const std::string key = key_of(model, channel, customer.id, customer.name_bits);
      const std::string ghost = key_of(model, channel, OmnichannelModel::ghost_customer_id(c), customer.name_bits);
      for (const auto& [text, id] : {std::pair{key, customer.id}, std::pair{ghost, OmnichannelModel::ghost_customer_id(c)}}) {
        const auto [it, inserted] = owner_of_key.emplace(std::string(channel_names[ch]) + ":" + text, id);
        ASSERT_TRUE(inserted || it->second == id) << "key " << text << " of " << id << " also belongs to " << it->second;
      }
      switch (channel) {
        case Channel::web:
          ASSERT_NE(key.find('@'), std::string::npos) << key;
          if (key.front() == '"') {
            ++quoted_web_keys;
            ASSERT_NE(key.find(", "), std::string::npos) << key;
            ASSERT_NE(key.find("\"@"), std::string::npos) << key;
          }
          break;
        case Channel::app:
          ASSERT_EQ(key.size(), 36u) << key;
          for (const std::size_t dash : {8u, 13u, 18u, 23u}) ASSERT_EQ(key[dash], '-') << key;
          break;
        case Channel::store:
          ASSERT_EQ(key.size(), 14u) << key;
          ASSERT_EQ(key.substr(0, 2), "LC") << key;
          ASSERT_TRUE(std::all_of(key.begin() + 2, key.end(), [](char c) { return c >= '0' && c <= '9'; })) << key;
          break;
      }
    }
  }
  EXPECT_GT(quoted_web_keys, 200);  // ~2.5%
  EXPECT_LT(quoted_web_keys, 1000);
}

TEST(OmnichannelModel, OrderBoundariesMatchASequentialScan) {
  const OmnichannelModel model(small_options(0));
  // Reference: walk the lines once, starting an order at natural starts and after max lines.
  std::vector<std::uint64_t> start_of(model.line_count());
  std::uint64_t start = 0;
  std::uint64_t orders = 0;
  for (std::uint64_t i = 0; i < model.line_count(); ++i) {
    if (i == 0 || model.natural_order_start(i) || i - start == OmnichannelModel::max_basket_lines) {
      start = i;
      ++orders;
    }
    start_of[i] = start;
  }
  for (std::uint64_t i = 0; i < model.line_count(); ++i) {
    ASSERT_EQ(model.order_start_containing(i), start_of[i]) << "line " << i;
    if (start_of[i] == i) {
      const std::uint64_t end = model.order_end(i);
      ASSERT_GT(end, i);
      ASSERT_LE(end - i, OmnichannelModel::max_basket_lines);
      ASSERT_TRUE(end == model.line_count() || start_of[end] == end) << "order at " << i << " ends at " << end;
      for (std::uint64_t j = i; j < end; ++j) ASSERT_EQ(start_of[j], i);
    }
  }
  const double mean = static_cast<double>(model.line_count()) / static_cast<double>(orders);
  EXPECT_GT(mean, 3.0);
  EXPECT_LT(mean, 4.5);
}

TEST(OmnichannelModel, ItemsetsAreDistinctItemsAndWhalesDistinctCustomers) {
  const OmnichannelModel model(small_options(0));
  ASSERT_EQ(model.itemsets().size(), 6u);
  for (const auto& itemset : model.itemsets()) {
    EXPECT_GE(itemset.size(), 2u);
    EXPECT_LE(itemset.size(), 4u);
    EXPECT_EQ(std::set<std::uint64_t>(itemset.begin(), itemset.end()).size(), itemset.size());
    for (const auto j : itemset) EXPECT_LT(j, model.item_count());
  }
  OmnichannelOptions all_whales = small_options(0);
  all_whales.customers = 7;
  all_whales.whales = 7;
  const OmnichannelModel crowded(all_whales);
  EXPECT_EQ(crowded.whales(), (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6}));
}

/// Every record's line end: the text of a range split anywhere concatenates to the whole range.
struct KernelText {
  std::string customers, identity, items;
  std::array<std::string, channel_count> orders;
  DirtTally tally;
  OrderLineStats stats;
  RecordCounts records{};
};

KernelText kernel_text(const OmnichannelModel& model, engine::RowRange customers, engine::RowRange items,
                       engine::RowRange lines) {
  KernelText text;
  append_customer_rows(model, customers, text.customers, text.identity, text.tally, text.records);
  append_item_rows(model, items, text.items, text.tally, text.records);
  append_order_lines(model, lines, text.orders, text.tally, text.stats, text.records);
  return text;
}

TEST(OmnichannelKernels, SplitRangesConcatenateToTheWholeRange) {
  for (const double rate : {0.0, 0.3}) {
    const OmnichannelModel model(small_options(rate));
    const engine::RowRange all_customers{0, model.customer_count()}, all_items{0, model.item_count()},
        all_lines{0, model.line_count()};
    const KernelText whole = kernel_text(model, all_customers, all_items, all_lines);
    std::mt19937_64 random(3);
    for (int trial = 0; trial < 12; ++trial) {
      const std::uint64_t sc = random() % (model.customer_count() + 1), si = random() % (model.item_count() + 1),
                          sl = random() % (model.line_count() + 1);
      KernelText left = kernel_text(model, {0, sc}, {0, si}, {0, sl});
      const KernelText right = kernel_text(model, {sc, model.customer_count()}, {si, model.item_count()},
                                           {sl, model.line_count()});
      ASSERT_EQ(left.customers + right.customers, whole.customers) << "split at customer " << sc;
      ASSERT_EQ(left.identity + right.identity, whole.identity) << "split at customer " << sc;
      ASSERT_EQ(left.items + right.items, whole.items) << "split at item " << si;
      for (std::size_t c = 0; c < channel_count; ++c) {
        ASSERT_EQ(left.orders[c] + right.orders[c], whole.orders[c]) << "split at line " << sl << ", channel " << c;
      }
      left.tally.add(right.tally);
      ASSERT_EQ(left.tally.counts, whole.tally.counts);
      ASSERT_EQ(left.tally.planted_rows, whole.tally.planted_rows);
      left.stats.add(right.stats);
      ASSERT_EQ(left.stats.orders, whole.stats.orders) << "split at line " << sl;
      ASSERT_EQ(left.stats.lines_by_channel, whole.stats.lines_by_channel);
    }
  }
}

/// Lines of `text` (without the final line end of a file that has one).
std::vector<std::string> lines_of(const std::string& text, bool crlf = false) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    if (crlf) {
      EXPECT_TRUE(!line.empty() && line.back() == '\r') << "a store line without CR: " << line;
      if (!line.empty()) line.pop_back();
    }
    lines.push_back(line);
    begin = end + 1;
  }
  return lines;
}

TEST(OmnichannelKernels, RecordCountsAndBlankLinesMatchTheText) {
  const OmnichannelModel model(small_options(0.2));
  const KernelText text = kernel_text(model, {0, model.customer_count()}, {0, model.item_count()}, {0, model.line_count()});
  const auto check = [&](GeneratedFile file, const std::string& content, bool crlf) {
    const auto lines = lines_of(content, crlf);
    EXPECT_EQ(lines.size(), text.records[static_cast<std::size_t>(file)]) << generated_file_names[static_cast<std::size_t>(file)];
    const auto blank = static_cast<std::uint64_t>(std::count(lines.begin(), lines.end(), std::string()));
    EXPECT_EQ(blank, text.tally.at(file, DirtReason::empty_line)) << generated_file_names[static_cast<std::size_t>(file)];
  };
  check(GeneratedFile::customers, text.customers, false);
  check(GeneratedFile::identity, text.identity, false);
  check(GeneratedFile::items, text.items, false);
  EXPECT_NE(text.items.back(), '\n') << "items.csv must not end with a newline";
  check(GeneratedFile::orders_web, text.orders[0], false);
  check(GeneratedFile::orders_app, text.orders[1], false);
  check(GeneratedFile::orders_store, text.orders[2], true);
  EXPECT_EQ(text.records[3] + text.records[4] + text.records[5], model.line_count());
  // Customers' rows: N, plus one per dirty customers row planted.
  EXPECT_EQ(text.records[0], model.customer_count() + text.tally.rejected(GeneratedFile::customers));
}

TEST(OmnichannelKernels, ADirtyRateOfZeroPlantsNothing) {
  const OmnichannelModel model(small_options(0));
  const KernelText text = kernel_text(model, {0, model.customer_count()}, {0, model.item_count()}, {0, model.line_count()});
  for (const auto count : text.tally.counts) EXPECT_EQ(count, 0u);
  EXPECT_EQ(text.tally.planted_rows, 0u);
  EXPECT_EQ(text.tally.orphaned_keys, 0u);
  EXPECT_EQ(text.records[0], model.customer_count());
  EXPECT_EQ(text.records[2], model.item_count());
}

TEST(OmnichannelOptions, BadValuesNameTheOption) {
  const auto message_of = [](OmnichannelOptions options) -> std::string {
    try {
      check_omnichannel_options(options);
    } catch (const InputError& error) {
      return error.what();
    }
    return "no error";
  };
  OmnichannelOptions o;
  EXPECT_EQ(message_of(o), "no error");
  o = {};
  o.customers = 0;
  EXPECT_NE(message_of(o).find("--customers"), std::string::npos);
  o = {};
  o.items = -1;
  EXPECT_NE(message_of(o).find("--items"), std::string::npos);
  o = {};
  o.order_lines = -5;
  EXPECT_NE(message_of(o).find("--orders"), std::string::npos);
  o = {};
  o.dirty_rate = 0.51;
  EXPECT_NE(message_of(o).find("--dirty-rate"), std::string::npos);
  o = {};
  o.customers = 3;
  o.whales = 4;
  EXPECT_NE(message_of(o).find("--whales"), std::string::npos);
  o = {};
  o.segments = 0;
  EXPECT_NE(message_of(o).find("--segments"), std::string::npos);
}

// ---- the collective driver ---------------------------------------------------------------------

class GeneratorFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string directory;
    if (comm().is_root()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "omniseg-generate-XXXXXX").string();
      if (mkdtemp(pattern.data()) != nullptr) directory = pattern;
    }
    comm().broadcast(directory);
    ASSERT_FALSE(directory.empty()) << "mkdtemp failed on rank 0";
    directory_ = directory;
  }
  void TearDown() override {
    comm().barrier();
    if (comm().is_root()) std::filesystem::remove_all(directory_);
  }

  static std::string content(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  /// Generates collectively, then compares every file with one process's kernels over all rows.
  void expect_files_as_one_process_writes_them(const OmnichannelOptions& options) {
    const auto out = directory_ / "data";
    engine::PhaseTimers timers(comm());
    const OmnichannelReport report = generate_omnichannel(comm(), options, out, timers);

    const OmnichannelModel model(options);
    KernelText whole = kernel_text(model, {0, model.customer_count()}, {0, model.item_count()}, {0, model.line_count()});
    const std::array<std::string, generated_file_count> expected{
        file_header(GeneratedFile::customers) + whole.customers, file_header(GeneratedFile::identity) + whole.identity,
        file_header(GeneratedFile::items) + whole.items,         file_header(GeneratedFile::orders_web) + whole.orders[0],
        file_header(GeneratedFile::orders_app) + whole.orders[1], file_header(GeneratedFile::orders_store) + whole.orders[2]};
    for (std::size_t f = 0; f < generated_file_count; ++f) {
      EXPECT_EQ(content(out / generated_file_names[f]), expected[f]) << generated_file_names[f] << " at " << comm().size()
                                                                     << " ranks";
    }
    EXPECT_EQ(content(out / "job.toml"), job_config_text(model.options().segments));
    EXPECT_EQ(report.rows, whole.records);
    EXPECT_EQ(report.dirt.counts, whole.tally.counts);
    EXPECT_EQ(report.dirt.planted_rows, whole.tally.planted_rows);
    EXPECT_EQ(report.dirt.identity_conflict_keys, whole.tally.identity_conflict_keys);
    EXPECT_EQ(report.orders.orders, whole.stats.orders);
    EXPECT_EQ(report.orders.whale_lines, whole.stats.whale_lines);

    File truth = File::open_read(comm(), out / "truth.h5");
    EXPECT_TRUE(truth.is_complete());
    std::vector<std::int64_t> ids;
    std::vector<std::int32_t> segments;
    for (std::uint64_t c = 0; c < model.customer_count(); ++c) {
      ids.push_back(model.customer(c).id);
      segments.push_back(model.customer(c).segment);
    }
    EXPECT_EQ(truth.read_vector<std::int64_t>("/customers/id"), ids);
    EXPECT_EQ(truth.read_vector<std::int32_t>("/customers/segment"), segments);
    const std::vector<std::int64_t> counts = truth.read_matrix<std::int64_t>("/dirty/counts");
    EXPECT_EQ(std::vector<std::uint64_t>(counts.begin(), counts.end()),
              std::vector<std::uint64_t>(whole.tally.counts.begin(), whole.tally.counts.end()));
    EXPECT_EQ(truth.dataset_info("/dirty/counts").dims, (std::vector<std::uint64_t>{generated_file_count, dirt_reason_count}));
    EXPECT_EQ(truth.read_strings("/dirty/reasons"), std::vector<std::string>(dirt_reason_names.begin(), dirt_reason_names.end()));
    EXPECT_EQ(truth.read_int_attribute("/dirty", "identity_conflict_keys"),
              static_cast<std::int64_t>(whole.tally.identity_conflict_keys));
    EXPECT_EQ(truth.read_vector<std::int64_t>("/whales/customer_id").size(), static_cast<std::size_t>(options.whales));
    truth.close();
  }

  std::filesystem::path directory_;
};

TEST_F(GeneratorFiles, CleanFilesAreWhatOneProcessWrites) { expect_files_as_one_process_writes_them(small_options(0)); }

TEST_F(GeneratorFiles, DirtyFilesAreWhatOneProcessWrites) { expect_files_as_one_process_writes_them(small_options(0.25)); }

TEST_F(GeneratorFiles, FewerRowsThanRanks) {
  expect_files_as_one_process_writes_them(
      {.customers = 2, .items = 1, .order_lines = 3, .seed = 5, .dirty_rate = 0.5, .whales = 1, .segments = 2});
  expect_files_as_one_process_writes_them(
      {.customers = 1, .items = 1, .order_lines = 0, .seed = 5, .dirty_rate = 0, .whales = 0, .segments = 1});
}

TEST_F(GeneratorFiles, AnUnusableDirectoryIsTheSameInputErrorOnEveryRank) {
  const auto blocker = directory_ / "a_file";
  if (comm().is_root()) std::ofstream(blocker) << "x\n";
  comm().barrier();
  engine::PhaseTimers timers(comm());
  try {
    (void)generate_omnichannel(comm(), small_options(0), blocker / "sub", timers);
    ADD_FAILURE() << "no error";
  } catch (const CollectiveError& error) {
    EXPECT_EQ(error.exit_code(), exit_codes::bad_input);
    EXPECT_NE(std::string(error.what()).find("--out"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace omniseg::io
