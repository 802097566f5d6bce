// Progress lines with a fake clock: when they print and what they say.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/logging.hpp"
#include "engine/progress.hpp"

namespace omniseg::engine {
namespace {

struct FakeClock {
  double now = 100.0;
};

TEST(Progress, PrintsAtMostOncePerIntervalWithRateAndEta) {
  FakeClock clock;
  std::vector<std::string> lines;
  Progress progress("ingest", 1000, {.interval_s = 10.0, .unit = "rows"}, [&] { return clock.now; },
                    [&](std::string_view line) { lines.emplace_back(line); });
  clock.now += 5;
  progress.advance(100);  // 5 s: too early
  EXPECT_TRUE(lines.empty());
  clock.now += 5;
  progress.advance(100);  // 10 s: 200 rows, 20 rows/s, 800 left = 40 s
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "ingest: 200/1.0k rows (20.0%), 20 rows/s, ETA 40s");
  clock.now += 3;
  progress.update(500);  // 3 s after the last line: quiet
  EXPECT_EQ(lines.size(), 1u);
  clock.now += 7;
  progress.update(600);  // 20 s: 600 rows, 30 rows/s, 400 left = 13 s
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "ingest: 600/1.0k rows (60.0%), 30 rows/s, ETA 13s");
  clock.now += 20;
  progress.update(1000);
  progress.finish();
  progress.finish();  // once only
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], "ingest: done, 1.0k rows in 40s (25 rows/s)");
}

TEST(Progress, UnknownTotalHasNoPercentageOrEta) {
  FakeClock clock;
  std::vector<std::string> lines;
  Progress progress("scan", 0, {.interval_s = 1.0, .unit = "lines"}, [&] { return clock.now; },
                    [&](std::string_view line) { lines.emplace_back(line); });
  clock.now += 2;
  progress.advance(4'000'000);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "scan: 4.00M lines, 2.00M lines/s");
}

TEST(Progress, FormatsDurationsAndCounts) {
  EXPECT_EQ(format_duration(0.25), "250ms");
  EXPECT_EQ(format_duration(42.4), "42s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(7620), "2h07m");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_count(999), "999");
  EXPECT_EQ(format_count(12'345), "12.3k");
  EXPECT_EQ(format_count(4'560'000), "4.56M");
  EXPECT_EQ(format_count(1.2e9), "1.20G");
}

TEST(Logging, ParsesLevelNamesAndRejectsOthers) {
  EXPECT_EQ(parse_log_level("debug"), spdlog::level::debug);
  EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("off"), spdlog::level::off);
  EXPECT_THROW((void)parse_log_level("loud"), std::invalid_argument);
}

}  // namespace
}  // namespace omniseg::engine
