// io::RangeWriter: every range lands byte for byte and no byte outside it changes (the partial
// blocks at its ends are shared with neighbours: other ranks' rows, HDF5's metadata); exactly the
// whole blocks inside a range go around the page cache, and those blocks are not left in it; a file
// system limit is an error naming the file. The expected file is a plain byte array the test
// updates itself, never the writer's output.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/errors.hpp"
#include "io/range_writer.hpp"

namespace omniseg::io {
namespace {

constexpr std::uint64_t block = RangeWriter::block_bytes;

class RangeWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("omniseg-uncached-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { std::filesystem::remove(path_); }

  /// A file of `bytes` bytes of a filler pattern; the model starts as the same bytes.
  void make_file(std::uint64_t bytes) {
    model_.resize(bytes);
    for (std::uint64_t i = 0; i < bytes; ++i) model_[i] = static_cast<std::byte>(0xA5 ^ (i % 251));
    std::ofstream(path_, std::ios::binary).write(reinterpret_cast<const char*>(model_.data()),
                                                 static_cast<std::streamsize>(model_.size()));
  }
  [[nodiscard]] std::vector<std::byte> file_bytes() const {
    std::ifstream in(path_, std::ios::binary);
    const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    for (std::size_t i = 0; i < chars.size(); ++i) bytes[i] = static_cast<std::byte>(chars[i]);
    return bytes;
  }
  /// Writes a range of distinct bytes through `writer` and into the model.
  void write(RangeWriter& writer, std::uint64_t offset, std::uint64_t count, std::uint8_t seed) {
    std::vector<std::byte> data(count);
    for (std::uint64_t i = 0; i < count; ++i) data[i] = static_cast<std::byte>(seed + 7 * i + (i >> 8));
    writer.write_at(offset, data);
    if (model_.size() < offset + count) model_.resize(offset + count, std::byte{0});
    std::copy(data.begin(), data.end(), model_.begin() + static_cast<std::ptrdiff_t>(offset));
  }

  std::filesystem::path path_;
  std::vector<std::byte> model_;
};

struct Range {
  std::uint64_t offset;
  std::uint64_t count;
};

/// Ranges that start and end inside blocks, on block edges, span one edge, span many blocks (more
/// than the staging buffer) and run past the end of the file.
const std::vector<Range> ranges{
    {0, 1},                                   // first byte only
    {1, block - 2},                           // inside block 0, both edges untouched
    {2 * block - 3, 6},                       // across one block edge
    {3 * block, block},                       // exactly one whole block
    {5 * block + 100, 3 * block},             // partial + whole blocks + partial
    {9 * block + 17, 7 * block + 5},          // several staging rounds (staging is 2 blocks below)
    {20 * block - 10, 10},                    // up to an edge
    {24 * block - 1000, 5 * block + 1234},    // past the original end of the file
};

/// Bytes of whole blocks inside [offset, offset + count): what must bypass the page cache.
std::uint64_t whole_block_bytes(const Range& range) {
  const std::uint64_t first = (range.offset + block - 1) / block * block;
  const std::uint64_t last = (range.offset + range.count) / block * block;
  return last > first ? last - first : 0;
}

TEST_F(RangeWriterTest, RangesLandExactlyAndNeighboursAreUntouched) {
  for (const auto mode : {RangeWriter::Mode::around_page_cache, RangeWriter::Mode::through_page_cache}) {
    make_file(22 * block);
    std::uint64_t expected_direct = 0;
    {
      RangeWriter writer(path_, mode, 2 * block);
      std::uint8_t seed = 1;
      for (const Range& range : ranges) {
        write(writer, range.offset, range.count, seed++);
        expected_direct += whole_block_bytes(range);
      }
      if (mode == RangeWriter::Mode::around_page_cache) {
        ASSERT_TRUE(writer.bypassing_page_cache())
            << "the test directory's file system refused O_DIRECT: " << path_.parent_path();
        EXPECT_EQ(writer.direct_bytes(), expected_direct);
      } else {
        EXPECT_FALSE(writer.bypassing_page_cache());
        EXPECT_EQ(writer.direct_bytes(), 0u);
      }
      writer.close();
    }
    const auto stored = file_bytes();
    ASSERT_EQ(stored.size(), model_.size());
    for (std::size_t i = 0; i < stored.size(); ++i) {
      ASSERT_EQ(stored[i], model_[i]) << "byte " << i << " (block " << i / block << ")";
    }
    std::filesystem::remove(path_);
  }
}

TEST_F(RangeWriterTest, WholeBlocksAreNotLeftInThePageCache) {
  make_file(0);
  constexpr std::uint64_t blocks = 64;
  {
    RangeWriter writer(path_, RangeWriter::Mode::around_page_cache);
    write(writer, 100, blocks * block - 200, 3);  // blocks 1 .. 62 are whole
    ASSERT_TRUE(writer.bypassing_page_cache());
    writer.close();
  }
  const int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* mapped = ::mmap(nullptr, blocks * block, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(mapped, MAP_FAILED);
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident(blocks * block / page);
  ASSERT_EQ(::mincore(mapped, blocks * block, resident.data()), 0);
  std::uint64_t cached_whole_pages = 0;
  for (std::uint64_t p = 0; p < resident.size(); ++p) {
    const bool whole = p * page >= block && (p + 1) * page <= (blocks - 1) * block;
    if (whole && (resident[p] & 1U) != 0) ++cached_whole_pages;
  }
  EXPECT_EQ(cached_whole_pages, 0u) << "of " << (blocks - 2) * block / page << " pages written around the cache";
  EXPECT_NE(resident.front() & 1U, 0) << "the partial first block goes through the page cache";
  ::munmap(mapped, blocks * block);
  ::close(fd);
}

TEST_F(RangeWriterTest, AFileSizeLimitIsAnErrorNamingTheFile) {
  make_file(0);
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &original), 0);
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // as omniseg does: an error, not a signal
  rlimit limited = original;
  limited.rlim_cur = 8 * block;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    RangeWriter writer(path_, RangeWriter::Mode::around_page_cache);
    write(writer, 0, 32 * block + 5, 9);
  } catch (const Error& error) {
    message = error.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &original);
  std::signal(SIGXFSZ, previous_handler);
  EXPECT_NE(message.find(path_.string()), std::string::npos) << message;
  EXPECT_NE(message.find("File too large"), std::string::npos) << message;
}

TEST_F(RangeWriterTest, AMissingFileIsAnErrorNamingIt) {
  std::string message;
  try {
    RangeWriter writer(path_ / "missing", RangeWriter::Mode::through_page_cache);
  } catch (const Error& error) {
    message = error.what();
  }
  EXPECT_NE(message.find((path_ / "missing").string()), std::string::npos) << message;
}

}  // namespace
}  // namespace omniseg::io
