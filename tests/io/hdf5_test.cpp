// The parallel HDF5 layer (io/hdf5.hpp) at the test's rank count: row-sharded writes with uneven
// blocks, empty ranks, n < P and n = 0, for every element type, 1-D and 2-D, contiguous and chunked;
// reads by another distribution than the one written; type conversion; strings; attributes; atomic
// files; and errors that name file and object. Every expected value comes from a formula each rank
// evaluates on its own (value = f(global row, column)), never from the code under test.
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/block_distribution.hpp"
#include "engine/communicator.hpp"
#include "engine/errors.hpp"
#include "io/hdf5.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::io {
namespace {

using engine::BlockDistribution;
using engine::RowRange;

static_assert(std::is_base_of_v<Error, Hdf5Error>);
static_assert(!std::is_copy_constructible_v<File> && std::is_move_constructible_v<File>);
static_assert(!std::is_copy_constructible_v<DatasetId> && std::is_move_constructible_v<DatasetId>);

const engine::Communicator& comm() { return testing::world(); }
int ranks() { return comm().size(); }
int me() { return comm().rank(); }

/// Every test gets its own directory (rank 0 creates it, all ranks learn its name), so the tests
/// can run next to each other under ctest -j.
class Hdf5Files : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string directory;
    if (comm().is_root()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "omniseg-hdf5-XXXXXX").string();
      if (mkdtemp(pattern.data()) != nullptr) directory = pattern;
    }
    comm().broadcast(directory);
    ASSERT_FALSE(directory.empty()) << "mkdtemp failed on rank 0";
    directory_ = directory;
  }
  void TearDown() override {
    comm().barrier();  // every rank has closed its files
    if (comm().is_root()) std::filesystem::remove_all(directory_);
  }
  [[nodiscard]] std::filesystem::path in_directory(const std::string& name) const {
    return directory_ / name;
  }

  std::filesystem::path directory_;
};

/// Runs `action`, which must throw Hdf5Error, and returns its message.
template <class Action>
std::string hdf5_error_of(Action&& action) {
  try {
    action();
  } catch (const Hdf5Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected an Hdf5Error";
  return {};
}

// ---- values every rank can compute ----------------------------------------------------------------

/// The value stored at (global row, column): distinct per cell, negative on odd rows for signed
/// types, and beyond 32 bits for 64-bit types, so a truncated or mixed-up element shows.
template <class T>
T value_at(std::uint64_t row, std::uint64_t column) {
  const std::uint64_t base = row * 10 + column;
  const bool negative = row % 2 == 1;
  if constexpr (std::is_floating_point_v<T>) {
    const T magnitude = static_cast<T>(base) + static_cast<T>(0.25);
    return negative ? -magnitude : magnitude;
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return negative ? -static_cast<T>(base) : static_cast<T>(base);
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    const auto magnitude = static_cast<std::int64_t>(base) + (std::int64_t{1} << 40);
    return negative ? -magnitude : magnitude;
  } else if constexpr (std::is_same_v<T, std::uint32_t>) {
    return static_cast<T>(3'000'000'000u + base);
  } else {
    return (std::uint64_t{1} << 63) + base;
  }
}

/// This rank's rows [first, first + count) of a dataset with `columns` columns (0: 1-D).
template <class T>
std::vector<T> rows_of(std::uint64_t first, std::uint64_t count, std::uint64_t columns) {
  std::vector<T> values;
  const std::uint64_t width = columns == 0 ? 1 : columns;
  for (std::uint64_t row = first; row < first + count; ++row) {
    for (std::uint64_t column = 0; column < width; ++column) values.push_back(value_at<T>(row, column));
  }
  return values;
}

/// How many rows each rank writes, by name.
struct RowCounts {
  std::string name;
  std::vector<std::uint64_t> counts;  ///< counts[r] for rank r

  [[nodiscard]] std::uint64_t total() const {
    std::uint64_t sum = 0;
    for (auto count : counts) sum += count;
    return sum;
  }
  [[nodiscard]] std::uint64_t first_row_of(int rank) const {
    std::uint64_t sum = 0;
    for (int r = 0; r < rank; ++r) sum += counts[static_cast<std::size_t>(r)];
    return sum;
  }
  [[nodiscard]] std::uint64_t mine() const { return counts[static_cast<std::size_t>(me())]; }
};

RowCounts block_counts(std::uint64_t rows) {
  RowCounts counts{"block_" + std::to_string(rows), {}};
  const BlockDistribution blocks(rows, ranks());
  for (int r = 0; r < ranks(); ++r) counts.counts.push_back(blocks.range(r).size());
  return counts;
}

/// Rank r holds r + 1 rows: a distribution no block distribution produces.
RowCounts rank_plus_one_counts() {
  RowCounts counts{"rank_plus_one", {}};
  for (int r = 0; r < ranks(); ++r) counts.counts.push_back(static_cast<std::uint64_t>(r) + 1);
  return counts;
}

/// The row splits every row-sharded test writes with: empty, single row, n < P, n not divisible
/// by P, rank r holding r + 1 rows (read back by block: another distribution), everything on the
/// last rank, and an empty rank in the middle.
std::vector<RowCounts> write_distributions() {
  const auto p = static_cast<std::uint64_t>(ranks());
  std::vector<RowCounts> all{block_counts(0), block_counts(1), block_counts(2 * p + 1), block_counts(17)};
  if (p > 2) all.push_back(block_counts(p - 1));  // n < P with more than one row
  RowCounts last_only{"last_rank_only", std::vector<std::uint64_t>(p, 0)};
  RowCounts hole{"empty_rank_one", {}};
  for (std::uint64_t r = 0; r < p; ++r) hole.counts.push_back(r == 1 ? 0 : 3);
  last_only.counts.back() = 5;
  all.push_back(rank_plus_one_counts());
  all.push_back(last_only);
  all.push_back(hole);
  return all;
}

// ---- every element type, every distribution -----------------------------------------------------

template <class T>
class RowShardedTypes : public Hdf5Files {};
using ElementTypes =
    ::testing::Types<std::int32_t, std::int64_t, std::uint32_t, std::uint64_t, float, double>;
TYPED_TEST_SUITE(RowShardedTypes, ElementTypes);

/// Writes every distribution, 1-D and 2-D, contiguous and chunked, into a file with `options`, and
/// reads it all back by block and whole.
template <class T>
void write_sharded_read_by_block_and_whole(const std::filesystem::path& path, const FileOptions& options) {
  constexpr std::uint64_t columns = 3;
  const auto distributions = write_distributions();
  const std::array<Layout, 2> layouts{Layout::contiguous, Layout::chunked};
  auto dataset_name = [](const RowCounts& counts, Layout layout, bool matrix) {
    return "/" + counts.name + (layout == Layout::chunked ? "/chunked/" : "/contiguous/") +
           (matrix ? "matrix" : "vector");
  };
  const bool uncached = options.page_cache_bypass.enabled;

  {
    auto file = File::create(comm(), path, options);
    for (const auto& counts : distributions) {
      const std::uint64_t first = counts.first_row_of(me());
      for (Layout layout : layouts) {
        const auto vector_report = file.write_vector_rows(
            dataset_name(counts, layout, false), rows_of<T>(first, counts.mine(), 0), {.layout = layout});
        const auto matrix_values = rows_of<T>(first, counts.mine(), columns);
        const auto matrix_report =
            file.write_matrix_rows(dataset_name(counts, layout, true), std::span<const T>(matrix_values),
                                   columns, {.layout = layout});
        for (const auto& report : {vector_report, matrix_report}) {
          EXPECT_EQ(report.global_rows, counts.total()) << counts.name;
          EXPECT_EQ(report.first_row, first) << counts.name;
          EXPECT_EQ(report.local_rows, counts.mine()) << counts.name;
          // Every non-empty contiguous dataset goes around HDF5's transfer when asked to (the
          // threshold is 1 byte here), none otherwise.
          const bool expect_uncached = uncached && layout == Layout::contiguous && counts.total() > 0;
          EXPECT_EQ(report.io_mode == CollectiveIoMode::uncached, expect_uncached)
              << counts.name << ": " << to_string(report.io_mode);
        }
      }
    }
    file.close();
    EXPECT_FALSE(file.is_open());
  }

  const File file = File::open_read(comm(), path);
  for (const auto& counts : distributions) {
    const std::uint64_t n = counts.total();
    const RowRange mine = BlockDistribution(n, ranks()).range(me());
    for (Layout layout : layouts) {
      const auto vector_name = dataset_name(counts, layout, false);
      const auto matrix_name = dataset_name(counts, layout, true);

      const auto vector_info = file.dataset_info(vector_name);
      EXPECT_EQ(vector_info.dims, std::vector<std::uint64_t>{n}) << vector_name;
      EXPECT_EQ(vector_info.element_type, element_type_of<T>()) << vector_name;
      EXPECT_EQ(vector_info.element_size_bytes, sizeof(T)) << vector_name;
      const auto matrix_info = file.dataset_info(matrix_name);
      EXPECT_EQ(matrix_info.dims, (std::vector<std::uint64_t>{n, columns})) << matrix_name;
      EXPECT_EQ(matrix_info.element_type, element_type_of<T>()) << matrix_name;

      EXPECT_EQ(file.read_vector_rows<T>(vector_name, mine), rows_of<T>(mine.begin, mine.size(), 0))
          << vector_name;
      EXPECT_EQ(file.read_matrix_rows<T>(matrix_name, mine), rows_of<T>(mine.begin, mine.size(), columns))
          << matrix_name;
      EXPECT_EQ(file.read_vector<T>(vector_name), rows_of<T>(0, n, 0)) << vector_name;
      EXPECT_EQ(file.read_matrix<T>(matrix_name), rows_of<T>(0, n, columns)) << matrix_name;
    }
  }
}

TYPED_TEST(RowShardedTypes, WriteShardedReadByBlockAndWhole) {
  write_sharded_read_by_block_and_whole<TypeParam>(this->in_directory("rows.h5"), {});
}

TYPED_TEST(RowShardedTypes, WriteShardedAroundThePageCacheReadByBlockAndWhole) {
  // Rows of 4 to 24 bytes: ranks' pieces start and end inside blocks, often inside the same one.
  write_sharded_read_by_block_and_whole<TypeParam>(
      this->in_directory("uncached.h5"), {.page_cache_bypass = {.enabled = true, .min_bytes_per_rank = 1}});
}

TEST_F(Hdf5Files, LargeDatasetsAroundThePageCacheSitAmongHdf5sOwnData) {
  // Pieces of tens of KiB per rank at unaligned offsets, with a 64 KiB threshold, between small
  // datasets, strings and attributes that HDF5 writes itself; read back by another distribution.
  const auto path = in_directory("mixed.h5");
  RowCounts counts{"uneven", {}};
  for (int r = 0; r < ranks(); ++r) counts.counts.push_back(3000 + 1111 * static_cast<std::uint64_t>(r) + 7);
  const std::uint64_t first = counts.first_row_of(me());
  const FileOptions options{.page_cache_bypass = {.enabled = true, .min_bytes_per_rank = 64 << 10}};
  write_file_atomically(comm(), path, [&](File& file) {
    file.write_vector_rows("/small", rows_of<std::int32_t>(me(), 1, 0));
    const auto report = file.write_matrix_rows("/big/doubles", rows_of<double>(first, counts.mine(), 3), 3);
    EXPECT_EQ(report.io_mode, CollectiveIoMode::uncached);
    file.write_string_attribute("/big/doubles", "note", "written around the page cache");
    file.write_root_strings("/names", std::vector<std::string>{"alpha", "beta"});
    // 8 bytes a row: under 64 KiB a rank on average, so HDF5 writes it collectively.
    const auto narrow = file.write_vector_rows("/big/int64", rows_of<std::int64_t>(first, counts.mine(), 0));
    EXPECT_EQ(narrow.io_mode, CollectiveIoMode::contiguous_collective);
    file.write_int_attribute("/", "after", 7);
  }, options);

  const auto file = File::open_read(comm(), path);
  EXPECT_TRUE(file.is_complete());
  const RowRange theirs = BlockDistribution(counts.total(), ranks()).range(ranks() - 1 - me());
  EXPECT_EQ(file.read_matrix_rows<double>("/big/doubles", theirs), rows_of<double>(theirs.begin, theirs.size(), 3));
  EXPECT_EQ(file.read_vector<std::int64_t>("/big/int64"), rows_of<std::int64_t>(0, counts.total(), 0));
  std::vector<std::int32_t> small;
  for (int r = 0; r < ranks(); ++r) small.push_back(value_at<std::int32_t>(static_cast<std::uint64_t>(r), 0));
  EXPECT_EQ(file.read_vector<std::int32_t>("/small"), small);
  EXPECT_EQ(file.read_string_attribute("/big/doubles", "note"), "written around the page cache");
  EXPECT_EQ(file.read_strings("/names"), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(file.read_int_attribute("/", "after"), 7);
}

/// The chunk shape of a stored dataset (empty if it is not chunked), read through raw HDF5.
std::vector<hsize_t> chunk_shape(const File& file, const std::string& dataset_path) {
  DatasetId dataset{H5Dopen2(file.id(), dataset_path.c_str(), H5P_DEFAULT)};
  PropertyListId creation{H5Dget_create_plist(dataset.get())};
  if (H5Pget_layout(creation.get()) != H5D_CHUNKED) return {};
  std::vector<hsize_t> chunk(2, 0);
  const int rank = H5Pget_chunk(creation.get(), 2, chunk.data());
  chunk.resize(static_cast<std::size_t>(std::max(rank, 0)));
  return chunk;
}

TEST_F(Hdf5Files, ChunkedRowsSpanManyChunksAndRanks) {
  // 20,000 doubles a row: 6 rows a chunk, so chunks cross rank boundaries. 140,000 doubles a row:
  // one row exceeds 1 MiB and is split into column chunks.
  const auto path = in_directory("chunks.h5");
  const std::uint64_t rows = 3 * static_cast<std::uint64_t>(ranks()) + 4;  // > 6 rows at any P
  const RowCounts counts = block_counts(rows);
  const std::uint64_t first = counts.first_row_of(me());
  const std::array<std::uint64_t, 2> widths{20'000, 140'000};
  {
    auto file = File::create(comm(), path);
    for (std::uint64_t columns : widths) {
      const auto report = file.write_matrix_rows("/w" + std::to_string(columns),
                                                 rows_of<double>(first, counts.mine(), columns), columns,
                                                 {.layout = Layout::chunked});
      EXPECT_EQ(report.global_rows, rows);
    }
    file.close();
  }
  const auto file = File::open_read(comm(), path);
  EXPECT_EQ(chunk_shape(file, "/w20000"), (std::vector<hsize_t>{6, 20'000}));
  EXPECT_EQ(chunk_shape(file, "/w140000"), (std::vector<hsize_t>{1, max_chunk_bytes / sizeof(double)}));
  // Read back by a distribution other than the one written: rank r reads the rows of rank P-1-r.
  const RowRange theirs = BlockDistribution(rows, ranks()).range(ranks() - 1 - me());
  for (std::uint64_t columns : widths) {
    const auto name = "/w" + std::to_string(columns);
    EXPECT_EQ(file.read_matrix_rows<double>(name, theirs),
              rows_of<double>(theirs.begin, theirs.size(), columns))
        << name;
  }
}

// ---- collective I/O really happens ---------------------------------------------------------------

TEST_F(Hdf5Files, WritesAreCollectiveWhenEveryRankHasRows) {
  auto file = File::create(comm(), in_directory("collective.h5"));
  for (Layout layout : {Layout::contiguous, Layout::chunked}) {
    const std::uint64_t first = 2 * static_cast<std::uint64_t>(me());
    const auto values = rows_of<double>(first, 2, 4);
    const auto report = file.write_matrix_rows(layout == Layout::chunked ? "/chunked" : "/contiguous", values,
                                               4, {.layout = layout});
    EXPECT_TRUE(report.collective()) << "io mode " << to_string(report.io_mode) << ", local cause "
                                     << report.local_no_collective_cause << ", global cause "
                                     << report.global_no_collective_cause;
    EXPECT_NE(report.io_mode, CollectiveIoMode::none);
    EXPECT_EQ(report.global_no_collective_cause, 0u);
    if (layout == Layout::contiguous) {
      EXPECT_EQ(report.io_mode, CollectiveIoMode::contiguous_collective);
    }
  }
  file.close();
}

// ---- reading another way than written -------------------------------------------------------------

TEST_F(Hdf5Files, StoredTypesConvertOnRead) {
  const auto path = in_directory("convert.h5");
  const auto counts = block_counts(11);
  const std::uint64_t first = counts.first_row_of(me());
  {
    auto file = File::create(comm(), path);
    file.write_matrix_rows("/float32", rows_of<float>(first, counts.mine(), 2), 2);
    file.write_vector_rows("/int32", rows_of<std::int32_t>(first, counts.mine(), 0));
    file.write_vector_rows("/uint32", rows_of<std::uint32_t>(first, counts.mine(), 0));
    file.close();
  }
  const auto file = File::open_read(comm(), path);
  EXPECT_EQ(file.dataset_info("/float32").element_type, ElementType::float32);

  std::vector<double> expected_doubles;
  for (float value : rows_of<float>(0, 11, 2)) expected_doubles.push_back(static_cast<double>(value));
  EXPECT_EQ(file.read_matrix<double>("/float32"), expected_doubles);

  // Everyone reads a different, overlapping window: rows [r, 11 - r) where that is non-empty.
  const std::uint64_t begin = std::min<std::uint64_t>(static_cast<std::uint64_t>(me()), 5);
  const RowRange window{begin, 11 - begin};
  std::vector<std::int64_t> expected_int64;
  for (std::int32_t value : rows_of<std::int32_t>(window.begin, window.size(), 0)) {
    expected_int64.push_back(value);
  }
  EXPECT_EQ(file.read_vector_rows<std::int64_t>("/int32", window), expected_int64);

  std::vector<std::uint64_t> expected_uint64;
  for (std::uint32_t value : rows_of<std::uint32_t>(0, 11, 0)) expected_uint64.push_back(value);
  EXPECT_EQ(file.read_vector<std::uint64_t>("/uint32"), expected_uint64);

  std::vector<double> expected_int_as_double;
  for (std::int32_t value : rows_of<std::int32_t>(0, 11, 0)) expected_int_as_double.push_back(value);
  EXPECT_EQ(file.read_vector<double>("/int32"), expected_int_as_double);
}

// ---- small datasets from rank 0 ------------------------------------------------------------------

TEST_F(Hdf5Files, RootProvidesSmallDatasets) {
  const auto path = in_directory("root.h5");
  constexpr std::uint64_t clusters = 4, dims = 3;
  {
    auto file = File::create(comm(), path);
    // Other ranks pass something different on purpose: only rank 0's values count.
    const auto centroids =
        comm().is_root() ? rows_of<double>(0, clusters, dims) : std::vector<double>(7, -1.0);
    const auto report = file.write_root_matrix("/kmeans/centroids", centroids, dims);
    EXPECT_EQ(report.global_rows, clusters);
    EXPECT_EQ(report.local_rows, comm().is_root() ? clusters : 0u);
    const std::vector<std::int64_t> sizes =
        comm().is_root() ? rows_of<std::int64_t>(0, clusters, 0) : std::vector<std::int64_t>{};
    file.write_root_vector("/kmeans/sizes", sizes);
    file.write_root_vector("/kmeans/empty", std::vector<std::uint64_t>{});
    file.close();
  }
  const auto file = File::open_read(comm(), path);
  EXPECT_EQ(file.read_matrix<double>("/kmeans/centroids"), rows_of<double>(0, clusters, dims));
  EXPECT_EQ(file.read_vector<std::int64_t>("/kmeans/sizes"), rows_of<std::int64_t>(0, clusters, 0));
  EXPECT_EQ(file.dataset_info("/kmeans/empty").dims, std::vector<std::uint64_t>{0});
  EXPECT_TRUE(file.read_vector<std::uint64_t>("/kmeans/empty").empty());
}

// ---- groups and structure ------------------------------------------------------------------------

TEST_F(Hdf5Files, IntermediateGroupsAreCreated) {
  auto file = File::create(comm(), in_directory("groups.h5"));
  file.write_vector_rows("/fim/items/ids", rows_of<std::uint64_t>(static_cast<std::uint64_t>(me()), 1, 0));
  file.create_groups("/meta/run");
  file.create_groups("/meta/run");  // existing groups are fine
  file.create_groups("fim");
  EXPECT_TRUE(file.exists("/"));
  EXPECT_TRUE(file.exists("/fim"));
  EXPECT_TRUE(file.exists("/fim/items"));
  EXPECT_TRUE(file.exists("fim/items/ids"));
  EXPECT_TRUE(file.exists("/meta/run"));
  EXPECT_FALSE(file.exists("/fim/rules"));
  EXPECT_FALSE(file.exists("/fim/items/ids/deeper"));  // a dataset has no children
  EXPECT_EQ(file.dataset_info("/fim/items/ids").dims,
            std::vector<std::uint64_t>{static_cast<std::uint64_t>(ranks())});
  file.close();
}

/// How many files and objects in files (datasets, groups, attributes, named types) HDF5 holds open in
/// this process. (Dataspaces and property lists cannot be counted: HDF5 refuses H5Inmembers on them.)
ssize_t open_file_objects() { return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

TEST_F(Hdf5Files, EveryOperationClosesWhatItOpens) {
  const auto path = in_directory("ids.h5");
  const auto before = open_file_objects();
  {
    auto file = File::create(comm(), path);
    file.write_matrix_rows("/a/matrix", rows_of<double>(static_cast<std::uint64_t>(me()) * 2, 2, 3), 3);
    file.write_vector_rows("/a/vector", rows_of<std::int64_t>(static_cast<std::uint64_t>(me()), 1, 0),
                           {.layout = Layout::chunked});
    file.write_root_strings("/a/names", std::vector<std::string>{"x", "yy"});
    file.write_string_attribute("/a", "text", "value");
    file.write_int_attribute("/a/matrix", "count", 5);
    static_cast<void>(hdf5_error_of([&] { file.write_vector_rows("/a/vector", std::vector<float>{1.0f}); }));
    EXPECT_EQ(H5Fget_obj_count(file.id(), H5F_OBJ_ALL & ~H5F_OBJ_FILE), 0);
    file.close();
  }
  {
    const auto file = File::open_read(comm(), path);
    static_cast<void>(file.read_matrix<float>("/a/matrix"));
    static_cast<void>(file.read_vector_rows<std::int64_t>("/a/vector", {0, 1}));
    static_cast<void>(file.read_strings("/a/names"));
    static_cast<void>(file.read_string_attribute("/a", "text"));
    static_cast<void>(file.read_double_attribute("/a/matrix", "count"));
    static_cast<void>(hdf5_error_of([&] { static_cast<void>(file.read_vector<double>("/a/matrix")); }));
    static_cast<void>(hdf5_error_of([&] { static_cast<void>(file.read_vector<double>("/a/none")); }));
    EXPECT_EQ(H5Fget_obj_count(file.id(), H5F_OBJ_ALL & ~H5F_OBJ_FILE), 0);
  }
  EXPECT_EQ(open_file_objects(), before);
}

TEST_F(Hdf5Files, CloseClosesChildrenLeftOpen) {
  auto file = File::create(comm(), in_directory("children.h5"));
  file.write_vector_rows("/data", std::vector<double>{1.0});
  // A dataset opened through the raw id and never closed: parallel HDF5 alone would refuse to close
  // the file.
  const hid_t left_open = H5Dopen2(file.id(), "/data", H5P_DEFAULT);
  ASSERT_GE(left_open, 0);
  EXPECT_NO_THROW(file.close());
  EXPECT_FALSE(file.is_open());
  EXPECT_NO_THROW(file.close());  // idempotent
  const auto reopened = File::open_read(comm(), in_directory("children.h5"));
  EXPECT_EQ(reopened.read_vector<double>("/data"),
            std::vector<double>(static_cast<std::size_t>(ranks()), 1.0));
}

TEST_F(Hdf5Files, FilesMove) {
  auto first = File::create(comm(), in_directory("moved.h5"));
  File second = std::move(first);
  EXPECT_TRUE(second.is_open());
  second.write_int_attribute("/", "answer", 42);
  File third = File::create(comm(), in_directory("other.h5"));
  third = std::move(second);  // closes other.h5, takes moved.h5
  EXPECT_EQ(third.path(), in_directory("moved.h5").string());
  third.close();
  EXPECT_EQ(File::open_read(comm(), in_directory("moved.h5")).read_int_attribute("/", "answer"), 42);
  EXPECT_NO_THROW(File::open_read(comm(), in_directory("other.h5")).close());
}

// ---- strings -------------------------------------------------------------------------------------

std::string name_of(std::uint64_t row) {
  // Lengths vary from 0 to 12 characters; every 5th name is empty.
  return row % 5 == 0 ? std::string() : "item-" + std::string(row % 8, static_cast<char>('a' + row % 26));
}

TEST_F(Hdf5Files, StringDatasetsRoundTrip) {
  const auto path = in_directory("strings.h5");
  const std::vector<std::string> root_names{"alpha", "", "grüße, ünïcödé", std::string(40, 'x'), "omega"};
  const RowCounts counts = rank_plus_one_counts();
  const std::uint64_t first = counts.first_row_of(me());
  {
    auto file = File::create(comm(), path);
    const auto report = file.write_root_strings(
        "/names/root", comm().is_root() ? root_names : std::vector<std::string>{"ignored"});
    EXPECT_EQ(report.global_rows, root_names.size());
    std::vector<std::string> mine;
    for (std::uint64_t row = first; row < first + counts.mine(); ++row) mine.push_back(name_of(row));
    file.write_string_rows("/names/sharded", mine);
    file.write_string_rows("/names/all_empty", std::vector<std::string>(2, ""));
    file.write_string_rows("/names/none", std::vector<std::string>{});
    file.close();
  }
  const auto file = File::open_read(comm(), path);
  EXPECT_EQ(file.read_strings("/names/root"), root_names);
  EXPECT_EQ(file.dataset_info("/names/root").element_type, ElementType::fixed_string);
  EXPECT_EQ(file.dataset_info("/names/root").element_size_bytes, 40u);  // the longest name, in bytes

  const std::uint64_t n = counts.total();
  std::vector<std::string> expected_all;
  for (std::uint64_t row = 0; row < n; ++row) expected_all.push_back(name_of(row));
  EXPECT_EQ(file.read_strings("/names/sharded"), expected_all);
  const RowRange mine = BlockDistribution(n, ranks()).range(me());
  EXPECT_EQ(file.read_string_rows("/names/sharded", mine),
            std::vector<std::string>(expected_all.begin() + static_cast<std::ptrdiff_t>(mine.begin),
                                     expected_all.begin() + static_cast<std::ptrdiff_t>(mine.end)));
  EXPECT_EQ(file.read_strings("/names/all_empty"),
            std::vector<std::string>(2 * static_cast<std::size_t>(ranks()), ""));
  EXPECT_TRUE(file.read_strings("/names/none").empty());
}

TEST_F(Hdf5Files, VariableLengthStringsFromOtherToolsAreReadable) {
  // Written by rank 0 alone through HDF5's default (serial) driver, as h5py would write them, in
  // the newest file format (which files this layer writes do not use, but must read).
  const auto path = in_directory("vlen.h5");
  const std::vector<std::string> names{"first", "", "a longer third name"};
  if (comm().is_root()) {
    PropertyListId access{H5Pcreate(H5P_FILE_ACCESS)};
    EXPECT_GE(H5Pset_libver_bounds(access.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), 0);
    FileId file{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get())};
    DatatypeId type{H5Tcopy(H5T_C_S1)};
    H5Tset_size(type.get(), H5T_VARIABLE);
    const hsize_t count = names.size();
    DataspaceId space{H5Screate_simple(1, &count, nullptr)};
    DatasetId dataset{
        H5Dcreate2(file.get(), "/names", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)};
    std::vector<const char*> pointers;
    for (const auto& name : names) pointers.push_back(name.c_str());
    EXPECT_GE(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), 0);
    DataspaceId scalar{H5Screate(H5S_SCALAR)};
    AttributeId attribute{H5Acreate2(file.get(), "note", type.get(), scalar.get(), H5P_DEFAULT, H5P_DEFAULT)};
    const char* note = "variable length";
    EXPECT_GE(H5Awrite(attribute.get(), type.get(), &note), 0);
  }
  comm().barrier();  // rank 0 has closed the file
  const auto file = File::open_read(comm(), path);
  EXPECT_EQ(file.dataset_info("/names").element_type, ElementType::variable_string);
  EXPECT_EQ(file.read_strings("/names"), names);
  const RowRange mine = BlockDistribution(names.size(), ranks()).range(me());
  EXPECT_EQ(file.read_string_rows("/names", mine),
            std::vector<std::string>(names.begin() + static_cast<std::ptrdiff_t>(mine.begin),
                                     names.begin() + static_cast<std::ptrdiff_t>(mine.end)));
  EXPECT_EQ(file.read_string_attribute("/", "note"), "variable length");
}

// ---- attributes ----------------------------------------------------------------------------------

TEST_F(Hdf5Files, AttributesRoundTripOnRootGroupAndDataset) {
  const auto path = in_directory("attributes.h5");
  const std::string long_text(100'000, 'c');  // beyond the 64 KiB of a compact attribute
  {
    auto file = File::create(comm(), path);
    file.create_groups("/meta");
    file.write_vector_rows("/data", rows_of<double>(static_cast<std::uint64_t>(me()), 1, 0));
    file.write_int_attribute("/", "format_version", 3);
    file.write_int_attribute("/meta", "ranks", ranks());
    file.write_int_attribute("/meta", "most_negative", std::numeric_limits<std::int64_t>::min());
    file.write_double_attribute("/data", "scale", 0.1);
    file.write_double_attribute("/data", "scale", -2.5);  // replaces
    file.write_string_attribute("/meta", "git_sha", "0123abcd");
    file.write_string_attribute("/meta", "empty", "");
    file.write_string_attribute("/meta", "unicode", "grüße");
    file.write_string_attribute("/meta", "config_text", long_text);
    file.close();
  }
  const auto file = File::open_read(comm(), path);
  EXPECT_EQ(file.read_int_attribute("/", "format_version"), 3);
  EXPECT_EQ(file.read_int_attribute("/meta", "ranks"), ranks());
  EXPECT_EQ(file.read_int_attribute("/meta", "most_negative"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(file.read_double_attribute("/data", "scale"), -2.5);
  EXPECT_EQ(file.read_double_attribute("/", "format_version"), 3.0);  // integers read as double too
  EXPECT_EQ(file.read_string_attribute("/meta", "git_sha"), "0123abcd");
  EXPECT_EQ(file.read_string_attribute("/meta", "empty"), "");
  EXPECT_EQ(file.read_string_attribute("/meta", "unicode"), "grüße");
  EXPECT_EQ(file.read_string_attribute("/meta", "config_text"), long_text);
  EXPECT_TRUE(file.has_attribute("/meta", "git_sha"));
  EXPECT_FALSE(file.has_attribute("/meta", "missing"));
  EXPECT_FALSE(file.is_complete());

  const auto missing = hdf5_error_of([&] { (void)file.read_int_attribute("/meta", "missing"); });
  EXPECT_NE(missing.find(path.string()), std::string::npos) << missing;
  EXPECT_NE(missing.find("/meta"), std::string::npos) << missing;
  EXPECT_NE(missing.find("missing"), std::string::npos) << missing;
  const auto wrong_kind = hdf5_error_of([&] { (void)file.read_int_attribute("/data", "scale"); });
  EXPECT_NE(wrong_kind.find("expected an integer"), std::string::npos) << wrong_kind;
  const auto not_text = hdf5_error_of([&] { (void)file.read_string_attribute("/", "format_version"); });
  EXPECT_NE(not_text.find("expected a string"), std::string::npos) << not_text;
  const auto no_object = hdf5_error_of([&] { (void)file.read_int_attribute("/nowhere", "x"); });
  EXPECT_NE(no_object.find("/nowhere"), std::string::npos) << no_object;
}

TEST_F(Hdf5Files, AttributeValuesMustAgreeAcrossRanks) {
  if (ranks() == 1) GTEST_SKIP() << "needs two ranks to disagree";
  auto file = File::create(comm(), in_directory("disagree.h5"));
  const auto numbers = hdf5_error_of([&] { file.write_int_attribute("/", "rank", me()); });
  EXPECT_NE(numbers.find("different values on different ranks"), std::string::npos) << numbers;
  const auto text =
      hdf5_error_of([&] { file.write_string_attribute("/", "who", "rank " + std::to_string(me())); });
  EXPECT_NE(text.find("different values on different ranks"), std::string::npos) << text;
  EXPECT_FALSE(file.has_attribute("/", "rank"));
  file.close();
}

// ---- atomic files --------------------------------------------------------------------------------

void write_marker(File& file, std::int64_t marker) {
  file.write_vector_rows("/rows", rows_of<std::int64_t>(static_cast<std::uint64_t>(me()) * 2, 2, 0));
  file.write_int_attribute("/", "marker", marker);
}

TEST_F(Hdf5Files, AtomicWriteAppearsWholeAndReplacesOlderFiles) {
  const auto final_path = in_directory("checkpoint.h5");
  for (std::int64_t marker : {1, 2}) {
    write_file_atomically(comm(), final_path, [&](File& file) { write_marker(file, marker); });
    EXPECT_TRUE(std::filesystem::exists(final_path));
    EXPECT_FALSE(std::filesystem::exists(temporary_path_for(final_path)));
    const auto file = File::open_read(comm(), final_path);
    EXPECT_TRUE(file.is_complete());
    EXPECT_EQ(file.read_int_attribute("/", complete_attribute_name), 1);
    EXPECT_EQ(file.read_int_attribute("/", "marker"), marker);
    EXPECT_EQ(file.read_vector<std::int64_t>("/rows"),
              rows_of<std::int64_t>(0, 2 * static_cast<std::uint64_t>(ranks()), 0));
  }
  EXPECT_EQ(temporary_path_for(final_path).string(), final_path.string() + ".tmp");
}

TEST_F(Hdf5Files, AtomicWriteThatThrowsLeavesNothingBehind) {
  const auto final_path = in_directory("never.h5");
  EXPECT_THROW(write_file_atomically(comm(), final_path,
                                     [&](File& file) {
                                       write_marker(file, 1);
                                       throw std::runtime_error("writer gave up");
                                     }),
               CollectiveError);
  EXPECT_FALSE(std::filesystem::exists(final_path));
  EXPECT_FALSE(std::filesystem::exists(temporary_path_for(final_path)));
}

TEST_F(Hdf5Files, AtomicWriteThatThrowsOnOneRankKeepsTheOlderFile) {
  const auto final_path = in_directory("kept.h5");
  write_file_atomically(comm(), final_path, [&](File& file) { write_marker(file, 7); });
  try {
    write_file_atomically(comm(), final_path, [&](File& file) {
      write_marker(file, 8);
      if (me() == ranks() - 1) throw std::runtime_error("last rank gave up");
    });
    ADD_FAILURE() << "expected a CollectiveError";
  } catch (const CollectiveError& error) {
    EXPECT_EQ(error.origin_rank(), ranks() - 1);
    EXPECT_NE(std::string(error.what()).find("last rank gave up"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(std::filesystem::exists(temporary_path_for(final_path)));
  const auto file = File::open_read(comm(), final_path);
  EXPECT_TRUE(file.is_complete());
  EXPECT_EQ(file.read_int_attribute("/", "marker"), 7);
}

// ---- errors name the file and the object ---------------------------------------------------------

void expect_names(const std::string& message, const std::filesystem::path& file, const std::string& object) {
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  if (!object.empty()) {
    EXPECT_NE(message.find(object), std::string::npos) << message;
  }
}

TEST_F(Hdf5Files, MissingFilesAreErrorsNamingThePath) {
  const auto missing = in_directory("missing.h5");
  const auto message = hdf5_error_of([&] { (void)File::open_read(comm(), missing); });
  expect_names(message, missing, "");
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;

  const auto nowhere = in_directory("no_such_directory") / "out.h5";
  expect_names(hdf5_error_of([&] { (void)File::create(comm(), nowhere); }), nowhere, "");

  const auto not_hdf5 = in_directory("text.h5");
  if (comm().is_root()) std::ofstream(not_hdf5) << "id,name\n1,not an HDF5 file\n";
  comm().barrier();
  expect_names(hdf5_error_of([&] { (void)File::open_read(comm(), not_hdf5); }), not_hdf5, "");
}

TEST_F(Hdf5Files, ReadErrorsNameFileAndDataset) {
  const auto path = in_directory("errors.h5");
  {
    auto file = File::create(comm(), path);
    file.write_vector_rows("/vector", rows_of<double>(static_cast<std::uint64_t>(me()), 1, 0));
    file.write_matrix_rows("/matrix", rows_of<double>(static_cast<std::uint64_t>(me()), 1, 2), 2);
    file.write_root_strings("/names", std::vector<std::string>{"a", "b"});
    file.create_groups("/group");
    file.close();
  }
  const auto file = File::open_read(comm(), path);
  const RowRange first_row{0, 1};

  expect_names(hdf5_error_of([&] { (void)file.read_vector<double>("/nope"); }), path, "/nope");
  expect_names(hdf5_error_of([&] { (void)file.read_vector<double>("/no/such/data"); }), path,
               "/no/such/data");
  expect_names(hdf5_error_of([&] { (void)file.dataset_info("/missing"); }), path, "/missing");
  expect_names(hdf5_error_of([&] { (void)file.read_strings("/absent"); }), path, "/absent");

  const auto vector_as_matrix =
      hdf5_error_of([&] { (void)file.read_matrix_rows<double>("/vector", first_row); });
  expect_names(vector_as_matrix, path, "/vector");
  EXPECT_NE(vector_as_matrix.find("expected 2"), std::string::npos) << vector_as_matrix;
  const auto matrix_as_vector = hdf5_error_of([&] { (void)file.read_vector<float>("/matrix"); });
  expect_names(matrix_as_vector, path, "/matrix");
  EXPECT_NE(matrix_as_vector.find("expected 1"), std::string::npos) << matrix_as_vector;

  const auto strings_as_numbers = hdf5_error_of([&] { (void)file.read_vector<std::int32_t>("/names"); });
  expect_names(strings_as_numbers, path, "/names");
  EXPECT_NE(strings_as_numbers.find("expected numbers"), std::string::npos) << strings_as_numbers;
  expect_names(hdf5_error_of([&] { (void)file.read_strings("/vector"); }), path, "/vector");
  expect_names(hdf5_error_of([&] { (void)file.read_vector<double>("/group"); }), path, "/group");

  // Only the last rank asks for too much; every rank must throw (none may wait in the read).
  const auto rows = static_cast<std::uint64_t>(ranks());
  const RowRange range = me() == ranks() - 1 ? RowRange{0, rows + 1} : RowRange{0, rows};
  expect_names(hdf5_error_of([&] { (void)file.read_vector_rows<double>("/vector", range); }), path,
               "/vector");
  expect_names(hdf5_error_of([&] {
                 (void)file.read_vector_rows<double>("/vector", RowRange{1, 0});
               }),
               path, "/vector");
}

TEST_F(Hdf5Files, WriteErrorsNameFileAndDataset) {
  const auto path = in_directory("write_errors.h5");
  auto file = File::create(comm(), path);
  file.write_vector_rows("/taken", std::vector<std::int32_t>{1});

  // An HDF5 call that fails: the message carries HDF5's own error stack.
  const auto exists = hdf5_error_of([&] { file.write_vector_rows("/taken", std::vector<std::int32_t>{2}); });
  expect_names(exists, path, "/taken");
  EXPECT_NE(exists.find("HDF5 error stack"), std::string::npos) << exists;
  EXPECT_NE(exists.find("H5Dcreate2"), std::string::npos) << exists;

  const auto ragged =
      hdf5_error_of([&] { file.write_matrix_rows("/ragged", std::vector<double>(me() == 0 ? 5 : 4), 2); });
  expect_names(ragged, path, "/ragged");
  expect_names(hdf5_error_of([&] { file.write_matrix_rows("/no_columns", std::vector<double>{}, 0); }), path,
               "/no_columns");
  if (ranks() > 1) {
    const auto columns = hdf5_error_of(
        [&] { file.write_matrix_rows("/columns", std::vector<double>(6), me() == 0 ? 2u : 3u); });
    expect_names(columns, path, "/columns");
    EXPECT_NE(columns.find("disagree"), std::string::npos) << columns;
  }
  const auto with_nul = hdf5_error_of(
      [&] { file.write_root_strings("/bad_names", std::vector<std::string>{std::string("a\0b", 3)}); });
  expect_names(with_nul, path, "/bad_names");
  EXPECT_FALSE(file.exists("/ragged"));
  EXPECT_FALSE(file.exists("/columns"));
  file.close();
}

}  // namespace
}  // namespace omniseg::io
