// io::MappedFile: the whole file is visible; a file truncated while mapped ends the process with a
// message naming it and the bad-input exit code, instead of an anonymous SIGBUS crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/errors.hpp"
#include "io/csv_reader.hpp"

namespace omniseg::io {
namespace {

std::filesystem::path write_file(const std::string& name, std::size_t bytes) {
  const auto path = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
  return path;
}

TEST(MappedFile, ShowsTheWholeFile) {
  const auto path = write_file("omniseg-mapped", 100000);
  {
    const MappedFile mapped(path.string(), "test file");
    EXPECT_EQ(mapped.bytes().size(), 100000U);
    EXPECT_EQ(mapped.bytes().find_first_not_of('x'), std::string_view::npos);
  }
  std::filesystem::remove(path);
}

TEST(MappedFileDeathTest, ATruncatedFileIsNamedAndEndsTheProcessWithBadInput) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto path = write_file("omniseg-shrinking", 1 << 20);
  EXPECT_EXIT(
      {
        const MappedFile mapped(path.string(), "test file");
        std::filesystem::resize_file(path, 0);  // another process truncates it
        volatile char last = mapped.bytes().back();  // the page past the new end faults
        static_cast<void>(last);
      },
      // The child re-runs the test (threadsafe style), so its file has its own process id.
      testing::ExitedWithCode(exit_codes::bad_input), "input file '[^']*omniseg-shrinking-[0-9]+' was truncated");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace omniseg::io
