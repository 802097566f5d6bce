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

}  // namespace
}  // namespace omniseg::jobs
