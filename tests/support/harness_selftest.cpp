// The MPI test harness itself: a test that fails on one rank only must fail on every rank. The
// DISABLED_ tests fail on purpose; tests/support/harness_selftest.sh runs them and checks the
// report. The enabled test passes on every rank.
#include <gtest/gtest.h>

#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::testing {
namespace {

TEST(HarnessSelfTest, PassesOnEveryRank) { EXPECT_GE(world().size(), 1); }

TEST(HarnessSelfTest, DISABLED_FailsOnlyOnTheLastRank) {
  EXPECT_NE(world().rank(), world().size() - 1) << "planted failure on the last rank";
}

}  // namespace
}  // namespace omniseg::testing
