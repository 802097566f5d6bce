// initial_centres at 1-4 ranks: the same bytes for every split of the rows (block distribution,
// all rows on the first or the last rank, an uneven split with empty ranks) and on every rank;
// centres are rows of the data; D² sampling finds a far-away cluster and covers separated blobs;
// k-means|| seeds about as well as k-means++; and the edge cases (k = 1, k > n, identical rows,
// fewer distinct rows than k, d = 1, fewer rows than ranks, bad arguments).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "algorithms/kmeans/init.hpp"
#include "engine/block_distribution.hpp"
#include "tests/support/mpi_gtest_main.hpp"
#include "tests/support/row_splits.hpp"

namespace omniseg::kmeans {
namespace {

using omniseg::testing::world;

/// The whole matrix, the same on every rank (generated from a fixed seed).
struct Matrix {
  std::uint64_t n = 0;
  std::size_t d = 0;
  std::vector<double> values;
  std::vector<int> blob;  // the generating blob of each row, where there is one

  [[nodiscard]] const double* row(std::uint64_t i) const { return values.data() + i * d; }
};

/// Gaussian blobs: `per_blob` rows around each of `centres` (rows of length d), deviation `spread`.
Matrix blobs(const std::vector<std::vector<double>>& centres, std::uint64_t per_blob, double spread, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, spread);
  Matrix m{.n = centres.size() * per_blob, .d = centres.front().size(), .values = {}, .blob = {}};
  // Interleave the blobs so every split mixes them.
  for (std::uint64_t i = 0; i < per_blob; ++i) {
    for (std::size_t b = 0; b < centres.size(); ++b) {
      for (const double c : centres[b]) m.values.push_back(c + normal(rng));
      m.blob.push_back(static_cast<int>(b));
    }
  }
  return m;
}

/// `count` blob centres on a grid with the given spacing, in d dimensions.
std::vector<std::vector<double>> grid_centres(std::size_t count, std::size_t d, double spacing) {
  std::vector<std::vector<double>> centres;
  for (std::size_t b = 0; b < count; ++b) {
    std::vector<double> centre(d, 0.0);
    std::size_t code = b;
    for (std::size_t j = 0; j < d; ++j, code /= 3) centre[j] = spacing * static_cast<double>(code % 3);
    centres.push_back(centre);
  }
  return centres;
}

using omniseg::testing::kSplits;
using omniseg::testing::rows_of;
using omniseg::testing::Split;

linalg::RowBlockView view_of(const Matrix& m, engine::RowRange rows) {
  return {.values = std::span<const double>(m.values).subspan(rows.begin * m.d, rows.size() * m.d),
          .local_rows = rows.size(),
          .columns = m.d,
          .first_global_row = rows.begin,
          .global_rows = m.n};
}

std::vector<double> seed_centres(const Matrix& m, Split split, const InitOptions& options) {
  return initial_centres(world(), view_of(m, rows_of(split, m.n)), options);
}

std::vector<std::uint64_t> bits_of(const std::vector<double>& values) {
  std::vector<std::uint64_t> bits;
  for (const double v : values) bits.push_back(std::bit_cast<std::uint64_t>(v));
  return bits;
}

/// True when every rank holds the same bytes.
bool same_on_every_rank(const std::vector<double>& values) {
  const auto gathered = world().allgatherv(bits_of(values));
  for (const std::uint64_t count : gathered.counts) {
    if (count != values.size()) return false;
  }
  const auto mine = bits_of(values);
  for (std::size_t r = 0; r < gathered.counts.size(); ++r) {
    if (!std::equal(mine.begin(), mine.end(), gathered.data.begin() + static_cast<std::ptrdiff_t>(r * values.size()))) {
      return false;
    }
  }
  return true;
}

/// The data row each centre equals exactly (-1 when none does).
std::vector<long> matching_rows(const Matrix& m, const std::vector<double>& centres) {
  std::vector<long> rows;
  for (std::size_t c = 0; c < centres.size() / m.d; ++c) {
    long found = -1;
    for (std::uint64_t i = 0; i < m.n && found < 0; ++i) {
      if (std::equal(m.row(i), m.row(i) + m.d, centres.begin() + static_cast<std::ptrdiff_t>(c * m.d))) {
        found = static_cast<long>(i);
      }
    }
    rows.push_back(found);
  }
  return rows;
}

std::set<std::vector<double>> distinct_rows(const std::vector<double>& rows, std::size_t d) {
  std::set<std::vector<double>> distinct;
  for (std::size_t c = 0; c < rows.size() / d; ++c) {
    distinct.insert(std::vector<double>(rows.begin() + static_cast<std::ptrdiff_t>(c * d),
                                        rows.begin() + static_cast<std::ptrdiff_t>((c + 1) * d)));
  }
  return distinct;
}

/// Σ over rows of the squared distance to the nearest centre, in long double (the seeding cost).
long double seeding_cost(const Matrix& m, const std::vector<double>& centres) {
  long double cost = 0;
  for (std::uint64_t i = 0; i < m.n; ++i) {
    long double nearest = INFINITY;
    for (std::size_t c = 0; c < centres.size() / m.d; ++c) {
      long double squared = 0;
      for (std::size_t j = 0; j < m.d; ++j) {
        const long double difference = static_cast<long double>(m.row(i)[j]) - centres[c * m.d + j];
        squared += difference * difference;
      }
      nearest = std::min(nearest, squared);
    }
    cost += nearest;
  }
  return cost;
}

constexpr InitMethod kMethods[] = {InitMethod::kmeans_plus_plus, InitMethod::kmeans_parallel};

const char* name_of(InitMethod method) {
  return method == InitMethod::kmeans_plus_plus ? "k-means++" : "k-means||";
}

TEST(KmeansInit, SameBytesForEverySplitAndOnEveryRank) {
  // 157 rows: not divisible by 2, 3 or 4; overlapping blobs so that sampling has real choices.
  const Matrix m = blobs(grid_centres(5, 3, 4.0), 32, 1.5, 7);
  const Matrix data{.n = 157, .d = 3, .values = {m.values.begin(), m.values.begin() + 157 * 3}, .blob = {}};
  for (const InitMethod method : kMethods) {
    for (const std::uint64_t k : {1, 5, 13}) {
      for (const std::uint64_t restart : {0, 3}) {
        const InitOptions options{.method = method, .k = k, .seed = 42, .restart = restart};
        const auto reference = seed_centres(data, Split::blocks, options);
        ASSERT_EQ(reference.size(), k * data.d);
        EXPECT_TRUE(same_on_every_rank(reference)) << name_of(method) << " k " << k;
        for (const Split split : kSplits) {
          EXPECT_EQ(bits_of(seed_centres(data, split, options)), bits_of(reference))
              << name_of(method) << " k " << k << " restart " << restart << " split " << static_cast<int>(split);
        }
      }
    }
  }
}

TEST(KmeansInit, CentresAreDistinctRowsOfTheData) {
  const Matrix m = blobs(grid_centres(6, 2, 5.0), 20, 1.0, 11);
  for (const InitMethod method : kMethods) {
    for (const std::uint64_t seed : {1, 2, 3}) {
      const auto centres = seed_centres(m, Split::blocks, {.method = method, .k = 9, .seed = seed, .restart = 0});
      for (const long row : matching_rows(m, centres)) EXPECT_GE(row, 0) << name_of(method) << " seed " << seed;
      EXPECT_EQ(distinct_rows(centres, m.d).size(), 9u) << name_of(method) << " seed " << seed;
    }
  }
}

TEST(KmeansInit, SeedsAndRestartsChangeTheDraws) {
  const Matrix m = blobs(grid_centres(4, 3, 3.0), 50, 1.0, 5);
  for (const InitMethod method : kMethods) {
    const auto base = seed_centres(m, Split::blocks, {.method = method, .k = 6, .seed = 1, .restart = 0});
    EXPECT_NE(base, seed_centres(m, Split::blocks, {.method = method, .k = 6, .seed = 2, .restart = 0})) << name_of(method);
    EXPECT_NE(base, seed_centres(m, Split::blocks, {.method = method, .k = 6, .seed = 1, .restart = 1})) << name_of(method);
  }
}

TEST(KmeansInit, SamplingByDistanceFindsAFarCluster) {
  // 300 rows near the origin and 4 rows 1000 away. Uniform sampling would put the second centre
  // there about once in 76 draws; sampling ∝ D² does so unless the first centre is already there.
  Matrix m = blobs({{0.0, 0.0}}, 300, 1.0, 3);
  std::mt19937_64 rng(4);
  std::normal_distribution<double> normal;
  for (int i = 0; i < 4; ++i) {
    m.values.insert(m.values.end(), {1000.0 + normal(rng), 1000.0 + normal(rng)});
    m.blob.push_back(1);
    ++m.n;
  }
  for (const InitMethod method : kMethods) {
    for (std::uint64_t seed = 0; seed < 25; ++seed) {
      const auto centres = seed_centres(m, Split::blocks, {.method = method, .k = 2, .seed = seed, .restart = 0});
      const auto rows = matching_rows(m, centres);
      ASSERT_GE(rows[0], 0);
      ASSERT_GE(rows[1], 0);
      EXPECT_NE(m.blob[static_cast<std::size_t>(rows[0])], m.blob[static_cast<std::size_t>(rows[1])])
          << name_of(method) << " seed " << seed << ": both centres in one cluster";
    }
  }
}

TEST(KmeansInit, CoversWellSeparatedBlobs) {
  const Matrix m = blobs(grid_centres(8, 4, 100.0), 40, 1.0, 9);
  for (const InitMethod method : kMethods) {
    for (std::uint64_t seed = 0; seed < 12; ++seed) {
      const auto centres = seed_centres(m, Split::uneven, {.method = method, .k = 8, .seed = seed, .restart = 0});
      std::set<int> covered;
      for (const long row : matching_rows(m, centres)) {
        ASSERT_GE(row, 0);
        covered.insert(m.blob[static_cast<std::size_t>(row)]);
      }
      EXPECT_EQ(covered.size(), 8u) << name_of(method) << " seed " << seed;
    }
  }
}

TEST(KmeansInit, ParallelSeedingCostsAboutAsMuchAsPlusPlus) {
  // Overlapping blobs, where the seeding cost depends on the choices. Uniform rows as centres
  // serve as the yardstick of a bad seeding.
  const Matrix m = blobs(grid_centres(10, 5, 6.0), 120, 1.5, 13);
  long double plus_plus = 0, parallel = 0, uniform = 0;
  std::mt19937_64 rng(17);
  for (std::uint64_t seed = 0; seed < 6; ++seed) {
    plus_plus += seeding_cost(m, seed_centres(m, Split::blocks, {.method = InitMethod::kmeans_plus_plus, .k = 10, .seed = seed}));
    parallel += seeding_cost(m, seed_centres(m, Split::blocks, {.method = InitMethod::kmeans_parallel, .k = 10, .seed = seed}));
    std::vector<double> random_rows;
    for (int c = 0; c < 10; ++c) {
      const std::uint64_t row = rng() % m.n;
      random_rows.insert(random_rows.end(), m.row(row), m.row(row) + m.d);
    }
    uniform += seeding_cost(m, random_rows);
  }
  EXPECT_LT(parallel, 1.5L * plus_plus) << "k-means|| " << static_cast<double>(parallel) << " k-means++ "
                                         << static_cast<double>(plus_plus);
  EXPECT_LT(plus_plus, 0.8L * uniform) << "k-means++ is no better than uniform rows";
  EXPECT_LT(parallel, 0.8L * uniform) << "k-means|| is no better than uniform rows";
}

TEST(KmeansInit, KEqualsOneGivesOneRow) {
  const Matrix m = blobs(grid_centres(3, 2, 5.0), 10, 1.0, 21);
  for (const InitMethod method : kMethods) {
    const auto centres = seed_centres(m, Split::uneven, {.method = method, .k = 1, .seed = 8});
    ASSERT_EQ(centres.size(), m.d);
    EXPECT_GE(matching_rows(m, centres)[0], 0) << name_of(method);
  }
}

TEST(KmeansInit, IdenticalRowsGiveThatRowKTimes) {
  Matrix m{.n = 10, .d = 2, .values = {}, .blob = {}};
  for (int i = 0; i < 10; ++i) m.values.insert(m.values.end(), {3.5, -1.0});
  for (const InitMethod method : kMethods) {
    for (const Split split : kSplits) {
      const auto centres = seed_centres(m, split, {.method = method, .k = 3, .seed = 1});
      EXPECT_EQ(centres, (std::vector<double>{3.5, -1.0, 3.5, -1.0, 3.5, -1.0})) << name_of(method);
    }
  }
}

TEST(KmeansInit, FewerDistinctRowsThanKUsesThemAll) {
  // Three distinct rows, repeated; k = 5 (and k > n = 3 for the short matrix).
  Matrix repeated{.n = 12, .d = 2, .values = {}, .blob = {}};
  for (int i = 0; i < 12; ++i) repeated.values.insert(repeated.values.end(), {double(i % 3), double(i % 3) * 10});
  const Matrix short_matrix{.n = 3, .d = 2, .values = {0, 0, 1, 10, 2, 20}, .blob = {}};
  for (const Matrix* m : std::vector<const Matrix*>{&repeated, &short_matrix}) {
    for (const InitMethod method : kMethods) {
      const auto reference = seed_centres(*m, Split::blocks, {.method = method, .k = 5, .seed = 4});
      ASSERT_EQ(reference.size(), 10u);
      EXPECT_EQ(distinct_rows(reference, 2).size(), 3u) << name_of(method);
      for (const long row : matching_rows(*m, reference)) EXPECT_GE(row, 0) << name_of(method);
      for (const Split split : kSplits) {
        EXPECT_EQ(bits_of(seed_centres(*m, split, {.method = method, .k = 5, .seed = 4})), bits_of(reference));
      }
    }
  }
}

TEST(KmeansInit, OneColumnAndFewerRowsThanRanks) {
  const Matrix line{.n = 9, .d = 1, .values = {0, 1, 2, 10, 11, 12, 50, 51, 52}, .blob = {}};
  const Matrix pair{.n = 2, .d = 3, .values = {1, 2, 3, -1, -2, -3}, .blob = {}};
  for (const InitMethod method : kMethods) {
    const auto on_line = seed_centres(line, Split::blocks, {.method = method, .k = 4, .seed = 6});
    EXPECT_EQ(distinct_rows(on_line, 1).size(), 4u) << name_of(method);
    const auto on_pair = seed_centres(pair, Split::blocks, {.method = method, .k = 2, .seed = 6});
    EXPECT_EQ(distinct_rows(on_pair, 3).size(), 2u) << name_of(method);
    for (const Split split : kSplits) {
      EXPECT_EQ(bits_of(seed_centres(line, split, {.method = method, .k = 4, .seed = 6})), bits_of(on_line));
      EXPECT_EQ(bits_of(seed_centres(pair, split, {.method = method, .k = 2, .seed = 6})), bits_of(on_pair));
    }
  }
}

TEST(KmeansInit, BadArgumentsThrowOnEveryRank) {
  const Matrix m = blobs(grid_centres(2, 2, 5.0), 5, 1.0, 2);
  EXPECT_THROW((void)seed_centres(m, Split::blocks, {.k = 0}), std::invalid_argument);
  // Every rank claims all rows: the blocks do not tile the matrix (at P > 1). Every rank must throw.
  if (world().size() > 1) {
    EXPECT_THROW((void)initial_centres(world(), view_of(m, {0, m.n}), {.k = 2}), std::invalid_argument);
  }
  const Matrix empty{.n = 0, .d = 2, .values = {}, .blob = {}};
  EXPECT_THROW((void)seed_centres(empty, Split::blocks, {.k = 1}), std::invalid_argument);
}

}  // namespace
}  // namespace omniseg::kmeans
