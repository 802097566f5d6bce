// The job configuration: every key read, defaults, and each mistake named by its key.
#include <gtest/gtest.h>

#include "engine/errors.hpp"
#include "jobs/job_config.hpp"

namespace omniseg::jobs {
namespace {

const std::string valid = R"(
[input.customers]
file = "customers.csv"
columns = { customer_id = "cust", signup_date = "joined" }

[input.identity]
file = "/data/identity.csv"

[input.items]
file = "items.csv"
columns = { item_id = "sku", category = "cat", brand = "maker" }

[[input.orders]]
channel = "web"
file = "orders_web.csv"

[[input.orders]]
channel = "store"
file = "pos/orders_store.csv"
columns = { channel_key = "loyalty_card" }

[features]
as_of = 2026-01-01
top_categories = 5

[engine]
memory_budget_mb = 512
heavy_key_share = 0.1

[output]
directory = "out"
)";

std::string message_of(const std::string& text) {
  try {
    (void)parse_job_config(text, "/jobs/job.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(JobConfig, ReadsEveryKeyAndResolvesPathsAgainstTheConfigFolder) {
  const JobConfig config = parse_job_config(valid, "/jobs/job.toml");
  EXPECT_EQ(config.customers.path, "/jobs/customers.csv");
  EXPECT_EQ(config.customers.display_name, "customers.csv");
  EXPECT_EQ(config.identity.path, "/data/identity.csv");
  ASSERT_EQ(config.orders.size(), 2U);
  EXPECT_EQ(config.orders[1].path, "/jobs/pos/orders_store.csv");
  EXPECT_EQ(config.orders[1].channel, "store");
  const ColumnMapping customers{{"customer_id", "cust"}, {"signup_date", "joined"}, {"region", "region"}};
  EXPECT_EQ(config.customers.columns, customers);
  EXPECT_EQ(config.customers.optional_roles_defaulted, std::vector<std::string>{"region"});
  const ColumnMapping items{{"item_id", "sku"}, {"category", "cat"}, {"brand", "maker"}, {"list_price", "list_price"}};
  EXPECT_EQ(config.items.columns, items);
  EXPECT_EQ(config.items.optional_roles_defaulted, std::vector<std::string>{"list_price"});
  EXPECT_EQ(config.orders[1].columns[1], (std::pair<std::string, std::string>{"channel_key", "loyalty_card"}));
  EXPECT_EQ(config.orders[0].columns[5], (std::pair<std::string, std::string>{"ts", "ts"}));
  EXPECT_EQ(config.features.as_of_text, "2026-01-01");
  EXPECT_EQ(config.features.as_of_days, 20454);  // (2026-01-01 - 1970-01-01) in days
  EXPECT_EQ(config.features.top_categories, 5);
  EXPECT_EQ(config.engine.memory_budget_bytes, 512ULL << 20);
  EXPECT_EQ(config.engine.heavy_key_share, 0.1);
  EXPECT_EQ(config.output_directory, "/jobs/out");
}

TEST(JobConfig, QuotedDateAndDefaults) {
  std::string text = replaced(valid, "as_of = 2026-01-01\ntop_categories = 5", "as_of = \"2024-02-29\"");
  text = replaced(text, "[engine]\nmemory_budget_mb = 512\nheavy_key_share = 0.1\n", "");
  const JobConfig config = parse_job_config(text, "job.toml");
  EXPECT_EQ(config.features.as_of_days, 19782);
  EXPECT_EQ(config.features.top_categories, 8);
  EXPECT_EQ(config.engine.memory_budget_bytes, 0U);
}

TEST(JobConfig, MistakesNameTheKey) {
  EXPECT_NE(message_of(replaced(valid, "top_categories = 5", "top_categorys = 5")).find("unknown key 'features.top_categorys'"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "top_categories = 5", "top_categories = \"5\"")).find("'features.top_categories' must be an integer"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "columns = { item_id = \"sku\"", "columns = { item_idd = \"sku\""))
                .find("unknown key 'input.items.columns.item_idd'"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "channel = \"web\"\n", "")).find("missing key 'input.orders[0].channel'"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "as_of = 2026-01-01", "as_of = \"2026-02-30\"")).find("'features.as_of' is not a date"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "[output]", "[outputs]")).find("unknown key 'outputs'"), std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "memory_budget_mb = 512", "memory_budget_mb = -1")).find("engine.memory_budget_mb"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "file = \"items.csv\"", "file = 3")).find("'input.items.file' must be a string"),
            std::string::npos);
  EXPECT_NE(message_of("[input\n").find("/jobs/job.toml:1"), std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "file = \"items.csv\"", "file = \"./../data/identity.csv\""))
                .find("is named twice, as input.identity.file and as input.items.file"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "[input.identity]\nfile = \"/data/identity.csv\"\n", "")).find("missing table [input.identity]"),
            std::string::npos);
}

TEST(JobConfig, SegmentationSections) {
  const std::string sections =
      "[pca]\ncomponents = 4\n[kmeans]\nk = \"3:7\"\ninit = \"k-means||\"\nmax_iter = 50\ntol = 0\nn_init = 2\nseed = 9\n"
      "[itemsets]\nmin_support = 25\nmax_size = 3\n[rules]\nmin_confidence = 0.5\nmin_lift = 2\ntop = 10\n";
  const JobConfig config = parse_job_config(valid + sections, "job.toml");
  EXPECT_EQ(config.pca.components, 4U);
  EXPECT_EQ(config.kmeans.k_first, 3U);
  EXPECT_EQ(config.kmeans.k_last, 7U);
  EXPECT_TRUE(config.kmeans.sweep());
  EXPECT_TRUE(config.kmeans.kmeans_parallel_init);
  EXPECT_EQ(config.kmeans.max_iterations, 50U);
  EXPECT_EQ(config.kmeans.tolerance, 0.0);
  EXPECT_EQ(config.kmeans.restarts, 2U);
  EXPECT_EQ(config.kmeans.seed, 9U);
  EXPECT_EQ(config.itemsets.min_support, 25.0);
  EXPECT_EQ(config.itemsets.max_size, 3U);
  EXPECT_EQ(config.rules.min_confidence, 0.5);
  EXPECT_EQ(config.rules.min_lift, 2.0);
  EXPECT_EQ(config.rules.top, 10U);

  const JobConfig defaults = parse_job_config(valid + "[kmeans]\nk = 4\n", "job.toml");
  EXPECT_EQ(defaults.kmeans.k_first, 4U);
  EXPECT_FALSE(defaults.kmeans.sweep());
  EXPECT_EQ(defaults.pca.components, PcaConfig{}.components);
  EXPECT_EQ(defaults.rules.min_confidence, RuleConfig{}.min_confidence);
}

TEST(JobConfig, SegmentationMistakesNameTheKey) {
  const auto message = [](const std::string& section) { return message_of(valid + section); };
  EXPECT_NE(message("[kmeans]\nk = 0\n").find("'kmeans.k' must be >= 1"), std::string::npos);
  EXPECT_NE(message("[kmeans]\nk = \"7:3\"\n").find("'kmeans.k'"), std::string::npos);
  EXPECT_NE(message("[kmeans]\nk = \"a:b\"\n").find("'kmeans.k'"), std::string::npos);
  EXPECT_NE(message("[kmeans]\nk = 2.5\n").find("'kmeans.k' must be an integer or a range"), std::string::npos);
  EXPECT_NE(message("[kmeans]\ninit = \"random\"\n").find("'kmeans.init'"), std::string::npos);
  EXPECT_NE(message("[kmeans]\ntol = -1\n").find("'kmeans.tol'"), std::string::npos);
  EXPECT_NE(message("[kmeans]\nflavour = 1\n").find("unknown key 'kmeans.flavour'"), std::string::npos);
  EXPECT_NE(message("[pca]\ncomponents = 0\n").find("'pca.components' must lie in [1, 1000]"), std::string::npos);
  EXPECT_NE(message("[itemsets]\nmin_support = 0\n").find("'itemsets.min_support'"), std::string::npos);
  EXPECT_NE(message("[itemsets]\nmin_support = 2.5\n").find("'itemsets.min_support' >= 1 is a basket count"),
            std::string::npos);
  EXPECT_NE(message("[rules]\nmin_confidence = 1.5\n").find("'rules.min_confidence' must lie in (0, 1]"),
            std::string::npos);
  EXPECT_NE(message("[rules]\nmin_lift = \"high\"\n").find("'rules.min_lift' must be a number"), std::string::npos);
  EXPECT_NE(message("[checkpoint]\nkmeans_interval = 0\n").find("'checkpoint.kmeans_interval'"), std::string::npos);
  EXPECT_NE(message("[checkpoint]\ndirectory = \"\"\n").find("'checkpoint.directory' must not be empty"),
            std::string::npos);
  EXPECT_NE(message("[checkpoint]\nevery = 3\n").find("unknown key 'checkpoint.every'"), std::string::npos);
  EXPECT_NE(message("[checkpoint]\nbypass_page_cache_min_kib = 0\n").find("'checkpoint.bypass_page_cache_min_kib'"),
            std::string::npos);
  EXPECT_NE(message("[checkpoint]\nbypass_page_cache = 1\n").find("'checkpoint.bypass_page_cache' must be true or false"),
            std::string::npos);
}

TEST(JobConfig, CheckpointSection) {
  const JobConfig none = parse_job_config(valid, "/jobs/job.toml");
  EXPECT_TRUE(none.checkpoint.directory.empty());
  EXPECT_EQ(none.checkpoint.kmeans_interval, 10U);
  EXPECT_TRUE(none.checkpoint.page_cache.enabled);
  EXPECT_EQ(none.checkpoint.page_cache.min_bytes_per_rank, 4096U << 10);
  const JobConfig config = parse_job_config(valid +
                                                "[checkpoint]\ndirectory = \"ck\"\nkmeans_interval = 4\n"
                                                "bypass_page_cache = false\nbypass_page_cache_min_kib = 64\n",
                                            "/jobs/job.toml");
  EXPECT_EQ(config.checkpoint.page_cache.min_bytes_per_rank, 64U << 10);
  EXPECT_EQ(config.checkpoint.directory, "/jobs/ck");  // relative to the config's folder
  EXPECT_EQ(config.checkpoint.kmeans_interval, 4U);
  EXPECT_FALSE(config.checkpoint.page_cache.enabled);
}

TEST(JobConfig, OutputSection) {
  const JobConfig defaults = parse_job_config(valid, "/jobs/job.toml");
  EXPECT_TRUE(defaults.output_page_cache.enabled);
  EXPECT_EQ(defaults.output_page_cache.min_bytes_per_rank, 4096U << 10);
  // No directory: the command line's --output must give it.
  const JobConfig cached = parse_job_config(
      replaced(valid, "directory = \"out\"", "bypass_page_cache = false\nbypass_page_cache_min_kib = 128"),
      "/jobs/job.toml");
  EXPECT_TRUE(cached.output_directory.empty());
  EXPECT_FALSE(cached.output_page_cache.enabled);
  EXPECT_EQ(cached.output_page_cache.min_bytes_per_rank, 128U << 10);
  EXPECT_NE(message_of(replaced(valid, "directory = \"out\"", "directory = \"\"")).find("'output.directory' must not be empty"),
            std::string::npos);
  EXPECT_NE(message_of(replaced(valid, "directory = \"out\"", "bypass_page_cache = \"no\"")).find("'output.bypass_page_cache' must be true or false"),
            std::string::npos);
}

}  // namespace
}  // namespace omniseg::jobs
