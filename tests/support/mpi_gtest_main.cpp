// An MPI-aware main for GoogleTest. Every rank runs every test in the same order; only rank 0
// prints the usual report; other ranks print their own failures with a rank prefix; and after each
// test the ranks agree, so a failure on any rank fails the test on all of them (and the exit code).
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "engine/mpi_environment.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::testing {
namespace {

const engine::Communicator* g_world = nullptr;

/// On ranks other than 0 (whose report is silenced), prints this rank's failures.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::ostringstream line;
    line << "[rank " << rank_ << "] " << (result.file_name() ? result.file_name() : "?") << ":"
         << result.line_number() << ": failure\n"
         << result.summary() << "\n";
    std::cerr << line.str() << std::flush;
  }

 private:
  int rank_;
};

/// After each test, fails it on every rank if it failed on any rank. (A separate listener from
/// the printer: GoogleTest forbids raising failures in a listener that handles part results.)
class CrossRankAgreement : public ::testing::EmptyTestEventListener {
 public:
  explicit CrossRankAgreement(const engine::Communicator& world) : world_(world) {}
  void OnTestEnd(const ::testing::TestInfo& info) override {
    const int failed_here = info.result()->Failed() ? 1 : 0;
    const auto failed = world_.allgather(failed_here);
    if (failed_here) return;
    for (int r = 0; r < world_.size(); ++r) {
      if (failed[static_cast<std::size_t>(r)] != 0) ADD_FAILURE() << "the test failed on rank " << r;
    }
  }

 private:
  const engine::Communicator& world_;
};

}  // namespace

const engine::Communicator& world() { return *g_world; }

}  // namespace omniseg::testing

int main(int argc, char** argv) {
  omniseg::engine::MpiEnvironment mpi(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  bool all_passed = false;
  {
    const auto world = omniseg::engine::Communicator::world();
    omniseg::testing::g_world = &world;
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    if (!world.is_root()) {
      delete listeners.Release(listeners.default_result_printer());
      listeners.Append(new omniseg::testing::RankFailurePrinter(world.rank()));
    }
    // Appended last, so its OnTestEnd runs first (end events go in reverse): the failure it adds
    // is in the result before rank 0's printer reports the test.
    listeners.Append(new omniseg::testing::CrossRankAgreement(world));
    const int local_result = RUN_ALL_TESTS();
    all_passed = world.all_of(local_result == 0);
    omniseg::testing::g_world = nullptr;
  }
  return all_passed ? 0 : 1;
}
