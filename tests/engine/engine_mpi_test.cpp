// The engine's distributed pieces other than raw collectives: error agreement, phase timers,
// random draws keyed by global row, logging set-up.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "engine/block_distribution.hpp"
#include "engine/error_agreement.hpp"
#include "engine/logging.hpp"
#include "engine/phase_timers.hpp"
#include "engine/random.hpp"
#include "engine/serialized.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::engine {
namespace {

const Communicator& world() { return testing::world(); }

/// The error every rank caught from `body`, or a failure if none was thrown.
CollectiveError agreed_error(const std::function<void()>& body) {
  try {
    collectively(world(), body);
  } catch (const CollectiveError& e) {
    return e;
  }
  ADD_FAILURE() << "no CollectiveError";
  return CollectiveError("none", 0, -1, {});
}

/// True on every rank iff `text` is the same on every rank.
bool same_on_all_ranks(const std::string& text) {
  std::string root_text = text;
  world().broadcast(root_text, 0);
  return world().all_of(root_text == text);
}

TEST(ErrorAgreement, NoFailureReturnsTheBodysValue) {
  const int value = collectively(world(), [] { return world().rank() * 2; });
  EXPECT_EQ(value, world().rank() * 2);
}

TEST(ErrorAgreement, FailureOnTheLastRankReachesEveryRank) {
  const int failing = world().size() - 1;
  const auto error = agreed_error([&] {
    if (world().rank() == failing) throw InputError("orders_web.csv line 17: bad quantity");
  });
  EXPECT_EQ(error.origin_rank(), failing);
  EXPECT_EQ(error.exit_code(), exit_codes::bad_input);
  EXPECT_EQ(error.failed_ranks(), std::vector<int>{failing});
  EXPECT_EQ(std::string(error.what()),
            "rank " + std::to_string(failing) + " failed: orders_web.csv line 17: bad quantity");
  EXPECT_TRUE(same_on_all_ranks(error.what()));
}

TEST(ErrorAgreement, SeveralFailedRanksReportTheLowest) {
  const int p = world().size();
  const auto error = agreed_error([&] {
    if (world().rank() == 0) throw std::runtime_error("early failure");
    if (world().rank() == p - 1) throw Error("late failure", 7);
  });
  EXPECT_EQ(error.origin_rank(), 0);
  EXPECT_EQ(error.exit_code(), exit_codes::failure);  // a plain std::exception
  EXPECT_TRUE(same_on_all_ranks(error.what()));
  if (p > 2) {
    EXPECT_EQ(error.failed_ranks(), (std::vector<int>{0, p - 1}));
    EXPECT_EQ(std::string(error.what()),
              "rank 0 failed: early failure (2 ranks failed: 0, " + std::to_string(p - 1) + "; showing the lowest)");
  } else if (p == 2) {
    EXPECT_EQ(std::string(error.what()), "every rank failed; rank 0: early failure");
  } else {
    EXPECT_EQ(std::string(error.what()), "rank 0 failed: early failure");
  }
}

TEST(ErrorAgreement, TheSameFailureEverywhereSaysSo) {
  const auto error = agreed_error([] { throw InputError("--min-support must be positive"); });
  EXPECT_EQ(error.failed_ranks().size(), static_cast<std::size_t>(world().size()));
  EXPECT_EQ(std::string(error.what()), world().size() == 1 ? "rank 0 failed: --min-support must be positive"
                                                           : "every rank failed; rank 0: --min-support must be positive");
}

TEST(ErrorAgreement, NonStandardExceptionsAreReportedToo) {
  const auto error = agreed_error([&] {
    if (world().rank() == 0) throw 42;
  });
  EXPECT_EQ(std::string(error.what()), "rank 0 failed: unknown exception");
}

TEST(ErrorAgreement, NestedAgreementKeepsTheOriginalMessage) {
  const int failing = world().size() / 2;
  const auto error = agreed_error([&] {
    collectively(world(), [&] {
      if (world().rank() == failing) throw InputError("inner");
    });
  });
  EXPECT_EQ(std::string(error.what()), "rank " + std::to_string(failing) + " failed: inner");
  EXPECT_EQ(error.origin_rank(), failing);
  EXPECT_EQ(error.exit_code(), exit_codes::bad_input);
}

TEST(ErrorAgreement, ExplicitAgreementWithAnAgreedErrorKeepsIt) {
  std::exception_ptr failure;
  try {
    collectively(world(), [] {
      if (world().rank() == 0) throw InputError("first");
    });
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    agree_on_failure(world(), failure);
    ADD_FAILURE() << "agreement returned";
  } catch (const CollectiveError& e) {
    EXPECT_EQ(std::string(e.what()), "rank 0 failed: first");
  }
}

TEST(ErrorAgreement, CommunicatorWorksAfterAFailure) {
  (void)agreed_error([&] {
    if (world().rank() == 0) throw Error("boom");
  });
  EXPECT_EQ(world().allreduce(1, ReduceOp::sum), world().size());
}

TEST(PhaseTimers, ReduceFindsTheSlowestRankAndCountsEntries) {
  PhaseTimers timers(world());
  for (int repeat = 0; repeat < 2; ++repeat) {
    auto phase = timers.phase("sleep");
    std::this_thread::sleep_for(std::chrono::milliseconds(40 * (world().rank() + 1)));
  }
  { auto phase = timers.phase("quick"); }
  const auto stats = timers.reduce();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].name, "sleep");
  EXPECT_EQ(stats[0].entries, 2u);
  EXPECT_EQ(stats[0].max_rank, world().size() - 1);
  EXPECT_GE(stats[0].min_s, 0.080);                       // sleeps last at least as long as asked
  EXPECT_GE(stats[0].max_s, 0.080 * world().size());
  EXPECT_LE(stats[0].min_s, stats[0].avg_s);
  EXPECT_LE(stats[0].avg_s, stats[0].max_s);
  EXPECT_EQ(stats[1].name, "quick");
  EXPECT_EQ(stats[1].entries, 1u);

  const auto json = to_json(stats);
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["phase"], "sleep");
  EXPECT_EQ(json[0]["max_rank"], world().size() - 1);
  EXPECT_DOUBLE_EQ(json[0]["max_s"].get<double>(), stats[0].max_s);
  const auto table = format_table(stats);
  EXPECT_NE(table.find("sleep"), std::string::npos);
  EXPECT_NE(table.find("max rank"), std::string::npos);
}

TEST(PhaseTimers, DifferentPhasesOnDifferentRanksIsTheSameErrorEverywhere) {
  PhaseTimers timers(world());
  { auto phase = timers.phase(world().rank() == world().size() - 1 ? "odd one" : "common"); }
  if (world().size() == 1) {
    EXPECT_NO_THROW((void)timers.reduce());
    return;
  }
  try {
    (void)timers.reduce();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(same_on_all_ranks(e.what()));
  }
}

TEST(CounterRng, DrawsForAGlobalRowDoNotDependOnTheRankCount) {
  // Rows block-distributed over the ranks (also fewer rows than ranks): the draws gathered in row
  // order equal the draws one rank computes for all rows.
  for (std::uint64_t rows : {0ULL, 1ULL, 2ULL, 3ULL, 1000ULL}) {
    const CounterRng rng(/*seed=*/99, /*stream=*/4);
    const auto mine = BlockDistribution(rows, world().size()).range(world().rank());
    std::vector<double> local;
    for (std::uint64_t row = mine.begin; row < mine.end; ++row) {
      auto draws = rng.draws(row, /*substream=*/2);
      local.push_back(draws.uniform());
      local.push_back(draws.normal());
      local.push_back(static_cast<double>(draws.below(1000)));
    }
    const auto gathered = world().allgatherv(local);
    std::vector<double> serial;
    for (std::uint64_t row = 0; row < rows; ++row) {
      auto draws = rng.draws(row, 2);
      serial.push_back(draws.uniform());
      serial.push_back(draws.normal());
      serial.push_back(static_cast<double>(draws.below(1000)));
    }
    EXPECT_EQ(gathered.data, serial) << rows << " rows";
  }
}

/// An irregular control message: strings and vectors of different sizes on every rank.
struct ControlMessage {
  std::string text;
  std::vector<int> values;
  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive & text & values;
  }
};

TEST(Serialized, BroadcastCarriesRootsMessageToEveryRank) {
  for (int root = 0; root < world().size(); ++root) {
    ControlMessage message{"from rank " + std::to_string(world().rank()),
                           std::vector<int>(static_cast<std::size_t>(world().rank() + 2), world().rank())};
    broadcast_serialized(world(), message, root);
    EXPECT_EQ(message.text, "from rank " + std::to_string(root));
    EXPECT_EQ(message.values, std::vector<int>(static_cast<std::size_t>(root + 2), root));
  }
}

TEST(Logging, OnlyRankZeroSpeaksUnlessAllRanksAreAsked) {
  configure_logging(world(), {.level = spdlog::level::debug, .all_ranks = false});
  EXPECT_EQ(spdlog::default_logger()->level(), world().is_root() ? spdlog::level::debug : spdlog::level::critical);
  configure_logging(world(), {.level = spdlog::level::warn, .all_ranks = true});
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
}

}  // namespace
}  // namespace omniseg::engine
