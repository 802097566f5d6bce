// tests/support/shared_temp_directory.hpp — a GoogleTest fixture for MPI tests that read files:
// rank 0 makes a fresh temporary directory and writes files into it, every rank gets the paths.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/communicator.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::testing {

/// Collective SetUp and TearDown: every rank of the world takes part. `prefix` names the directory
/// (e.g. "omniseg-csv"), so that leftovers of a crashed test say whose they are.
class SharedTempDirectoryTest : public ::testing::Test {
 protected:
  explicit SharedTempDirectoryTest(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    std::string directory;
    if (comm_.is_root()) {
      std::string pattern = (std::filesystem::temp_directory_path() / (prefix_ + "-XXXXXX")).string();
      if (::mkdtemp(pattern.data()) != nullptr) directory = pattern;
    }
    comm_.broadcast(directory);
    ASSERT_FALSE(directory.empty()) << "mkdtemp failed";
    directory_ = directory;
  }
  void TearDown() override {
    comm_.barrier();  // nobody reads any more
    if (comm_.is_root() && !directory_.empty()) std::filesystem::remove_all(directory_);
  }

  /// Rank 0 writes the file; every rank gets its path once it is complete.
  std::string write_file(const std::string& name, const std::string& content) const {
    const std::string path = directory_ + "/" + name;
    if (comm_.is_root()) {
      std::ofstream out(path, std::ios::binary);
      out << content;
    }
    comm_.barrier();
    return path;
  }

  const engine::Communicator& comm_ = world();
  std::string prefix_;
  std::string directory_;
};

}  // namespace omniseg::testing
