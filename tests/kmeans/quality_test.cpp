// cluster_quality at 1-4 ranks against brute force on the whole matrix held by every rank (long
// double): Calinski–Harabasz by the textbook formula, the silhouette as scikit-learn's
// silhouette_score defines it, on all rows when n <= 2000 and on the keyed sample (selected here
// independently) when n is larger; the same bytes for every split of the rows; the degenerate
// cases (one cluster, one row per cluster, identical rows, an empty cluster, a singleton) and bad
// labels; and the pick-k rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "algorithms/kmeans/quality.hpp"
#include "engine/block_distribution.hpp"
#include "engine/random.hpp"
#include "tests/support/mpi_gtest_main.hpp"
#include "tests/support/row_splits.hpp"

namespace omniseg::kmeans {
namespace {

using omniseg::testing::world;

/// A whole clustering, the same on every rank.
struct Clustering {
  std::uint64_t n = 0;
  std::size_t d = 0;
  std::vector<double> values;
  std::vector<std::int32_t> labels;
  std::vector<double> centroids;     // cluster means (0 for an empty cluster)
  std::vector<std::uint64_t> sizes;
  double inertia = 0;                // Σ ‖x − centroid(label)‖², in long double

  [[nodiscard]] const double* row(std::uint64_t i) const { return values.data() + i * d; }
  [[nodiscard]] std::size_t k() const { return sizes.size(); }
};

/// Fills centroids (means), sizes and inertia from values and labels, in long double.
void finish(Clustering& c, std::size_t k) {
  std::vector<long double> sums(k * c.d, 0);
  c.sizes.assign(k, 0);
  for (std::uint64_t i = 0; i < c.n; ++i) {
    const auto label = static_cast<std::size_t>(c.labels[i]);
    ++c.sizes[label];
    for (std::size_t j = 0; j < c.d; ++j) sums[label * c.d + j] += c.row(i)[j];
  }
  c.centroids.assign(k * c.d, 0.0);
  for (std::size_t label = 0; label < k; ++label) {
    if (c.sizes[label] == 0) continue;
    for (std::size_t j = 0; j < c.d; ++j) {
      c.centroids[label * c.d + j] = static_cast<double>(sums[label * c.d + j] / c.sizes[label]);
    }
  }
  long double inertia = 0;
  for (std::uint64_t i = 0; i < c.n; ++i) {
    for (std::size_t j = 0; j < c.d; ++j) {
      const long double difference =
          static_cast<long double>(c.row(i)[j]) - c.centroids[static_cast<std::size_t>(c.labels[i]) * c.d + j];
      inertia += difference * difference;
    }
  }
  c.inertia = static_cast<double>(inertia);
}

/// Four overlapping blobs of `per_blob` rows in 3-D, one far outlier in a cluster of its own, and
/// an empty sixth cluster.
Clustering blob_clustering(std::uint64_t per_blob, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.2);
  const double centres[4][3] = {{0, 0, 0}, {4, 0, 1}, {0, 5, -1}, {3, 3, 3}};
  Clustering c{.n = 0, .d = 3, .values = {}, .labels = {}, .centroids = {}, .sizes = {}, .inertia = 0};
  for (std::uint64_t i = 0; i < per_blob; ++i) {
    for (int b = 0; b < 4; ++b) {
      for (const double x : centres[b]) c.values.push_back(x + normal(rng));
      c.labels.push_back(b);
    }
    if (i == per_blob / 2) {
      c.values.insert(c.values.end(), {40.0, -30.0, 25.0});
      c.labels.push_back(4);
    }
  }
  c.n = c.labels.size();
  finish(c, 6);
  return c;
}

using omniseg::testing::kSplits;
using omniseg::testing::rows_of;
using omniseg::testing::Split;

ClusterQuality quality_of(const Clustering& c, Split split, std::uint64_t seed) {
  const engine::RowRange rows = rows_of(split, c.n);
  const linalg::RowBlockView view{.values = std::span<const double>(c.values).subspan(rows.begin * c.d, rows.size() * c.d),
                                  .local_rows = rows.size(),
                                  .columns = c.d,
                                  .first_global_row = rows.begin,
                                  .global_rows = c.n};
  return cluster_quality(world(), view, std::span<const std::int32_t>(c.labels).subspan(rows.begin, rows.size()),
                         c.centroids, c.sizes, c.inertia, seed);
}

/// [B / (k − 1)] / [W / (n − k)] over the non-empty clusters, in long double.
long double textbook_calinski_harabasz(const Clustering& c) {
  std::vector<long double> mean(c.d, 0);
  for (std::uint64_t i = 0; i < c.n; ++i) {
    for (std::size_t j = 0; j < c.d; ++j) mean[j] += c.row(i)[j];
  }
  for (long double& m : mean) m /= c.n;
  long double between = 0, within = 0;
  std::uint64_t clusters = 0;
  for (std::size_t label = 0; label < c.k(); ++label) {
    if (c.sizes[label] == 0) continue;
    ++clusters;
    for (std::size_t j = 0; j < c.d; ++j) {
      const long double difference = c.centroids[label * c.d + j] - mean[j];
      between += c.sizes[label] * difference * difference;
    }
  }
  for (std::uint64_t i = 0; i < c.n; ++i) {
    for (std::size_t j = 0; j < c.d; ++j) {
      const long double difference =
          static_cast<long double>(c.row(i)[j]) - c.centroids[static_cast<std::size_t>(c.labels[i]) * c.d + j];
      within += difference * difference;
    }
  }
  return (between / (clusters - 1)) / (within / (c.n - clusters));
}

/// scikit-learn's silhouette_score of the given rows with their own labels, brute force.
long double brute_force_silhouette(const Clustering& c, const std::vector<std::uint64_t>& rows) {
  std::map<std::int32_t, std::uint64_t> members;
  for (const std::uint64_t row : rows) ++members[c.labels[row]];
  long double total = 0;
  for (const std::uint64_t i : rows) {
    std::map<std::int32_t, long double> to_cluster;
    for (const std::uint64_t j : rows) {
      long double squared = 0;
      for (std::size_t col = 0; col < c.d; ++col) {
        const long double difference = static_cast<long double>(c.row(i)[col]) - c.row(j)[col];
        squared += difference * difference;
      }
      to_cluster[c.labels[j]] += std::sqrt(squared);
    }
    const std::int32_t own = c.labels[i];
    if (members[own] == 1) continue;  // s(i) = 0
    const long double a = to_cluster[own] / (members[own] - 1);
    long double b = INFINITY;
    for (const auto& [label, count] : members) {
      if (label != own) b = std::min(b, to_cluster[label] / count);
    }
    if (std::max(a, b) > 0) total += (b - a) / std::max(a, b);
  }
  return total / rows.size();
}

/// The sample quality.hpp documents, selected here from its definition: the rows with the smallest
/// keyed random values (ties by row), ascending.
std::vector<std::uint64_t> documented_sample(std::uint64_t n, std::uint64_t seed) {
  const engine::CounterRng rng(seed, kSilhouetteSampleStream);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> keyed;
  for (std::uint64_t row = 0; row < n; ++row) keyed.emplace_back(rng.draws(row).next_u64(), row);
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::uint64_t> rows;
  for (std::uint64_t s = 0; s < std::min(n, kSilhouetteSampleRows); ++s) rows.push_back(keyed[s].second);
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<std::uint64_t> bits_of(const ClusterQuality& q) {
  return {std::bit_cast<std::uint64_t>(q.calinski_harabasz), std::bit_cast<std::uint64_t>(q.silhouette),
          q.silhouette_sample};
}

/// Every split of the rows gives the bytes of the block split, and every rank holds them.
void expect_same_bytes_for_every_split(const Clustering& c, std::uint64_t seed, const ClusterQuality& reference) {
  for (const Split split : kSplits) {
    EXPECT_EQ(bits_of(quality_of(c, split, seed)), bits_of(reference)) << "split " << static_cast<int>(split);
  }
  const auto everywhere = world().allgather(bits_of(reference));
  for (std::size_t at = 0; at < everywhere.size(); ++at) EXPECT_EQ(everywhere[at], bits_of(reference)[at % 3]);
}

TEST(KmeansQuality, MatchesBruteForceOnTheWholeData) {
  const Clustering c = blob_clustering(100, 1);  // 401 rows: the sample is every row
  const ClusterQuality quality = quality_of(c, Split::blocks, 5);
  EXPECT_EQ(quality.silhouette_sample, c.n);
  EXPECT_NEAR(quality.calinski_harabasz, static_cast<double>(textbook_calinski_harabasz(c)),
              1e-12 * quality.calinski_harabasz);
  std::vector<std::uint64_t> all(c.n);
  for (std::uint64_t i = 0; i < c.n; ++i) all[i] = i;
  EXPECT_NEAR(quality.silhouette, static_cast<double>(brute_force_silhouette(c, all)), 1e-12);
  EXPECT_GT(quality.silhouette, 0.2);  // overlapping but real clusters
  expect_same_bytes_for_every_split(c, 5, quality);
}

TEST(KmeansQuality, SilhouetteOnTheKeyedSample) {
  const Clustering c = blob_clustering(650, 2);  // 2601 rows: a sample of 2000
  for (const std::uint64_t seed : {3, 4}) {
    const ClusterQuality quality = quality_of(c, Split::uneven, seed);
    EXPECT_EQ(quality.silhouette_sample, kSilhouetteSampleRows);
    EXPECT_NEAR(quality.silhouette, static_cast<double>(brute_force_silhouette(c, documented_sample(c.n, seed))), 1e-12);
    EXPECT_NEAR(quality.calinski_harabasz, static_cast<double>(textbook_calinski_harabasz(c)),
                1e-12 * quality.calinski_harabasz);
    expect_same_bytes_for_every_split(c, seed, quality);
  }
}

TEST(KmeansQuality, EmptyClustersDoNotCount) {
  Clustering with_empty = blob_clustering(20, 3);  // cluster 5 is empty
  Clustering without = with_empty;
  without.sizes.pop_back();
  without.centroids.resize(5 * without.d);
  const ClusterQuality a = quality_of(with_empty, Split::blocks, 1), b = quality_of(without, Split::blocks, 1);
  EXPECT_EQ(bits_of(a), bits_of(b));
}

TEST(KmeansQuality, OneClusterAndOneRowPerCluster) {
  Clustering one = blob_clustering(10, 4);
  std::fill(one.labels.begin(), one.labels.end(), 0);
  finish(one, 1);
  const ClusterQuality single = quality_of(one, Split::uneven, 2);
  EXPECT_EQ(single.calinski_harabasz, 0.0);
  EXPECT_EQ(single.silhouette, 0.0);

  Clustering each = blob_clustering(1, 5);  // 5 rows (4 blobs and the outlier), 5 clusters
  for (std::uint64_t i = 0; i < each.n; ++i) each.labels[i] = static_cast<std::int32_t>(i);
  finish(each, each.n);
  const ClusterQuality singletons = quality_of(each, Split::blocks, 2);
  EXPECT_EQ(singletons.calinski_harabasz, 0.0);  // n = k
  EXPECT_EQ(singletons.silhouette, 0.0);         // every s(i) of a singleton is 0
  expect_same_bytes_for_every_split(each, 2, singletons);
}

TEST(KmeansQuality, IdenticalRows) {
  Clustering same{.n = 6, .d = 2, .values = {}, .labels = {0, 1, 0, 1, 0, 1}, .centroids = {}, .sizes = {}, .inertia = 0};
  for (int i = 0; i < 6; ++i) same.values.insert(same.values.end(), {2.0, -7.0});
  finish(same, 2);
  const ClusterQuality quality = quality_of(same, Split::all_on_last, 9);
  EXPECT_EQ(quality.calinski_harabasz, 1.0);  // W = 0: scikit-learn's convention
  EXPECT_EQ(quality.silhouette, 0.0);         // a = b = 0
  expect_same_bytes_for_every_split(same, 9, quality);
}

TEST(KmeansQuality, BadInputThrowsOnEveryRank) {
  Clustering c = blob_clustering(10, 6);
  Clustering bad_label = c;
  bad_label.labels.back() = 6;  // k = 6: out of range, on the last rank that holds rows
  EXPECT_THROW((void)quality_of(bad_label, Split::blocks, 1), std::invalid_argument);
  Clustering bad_sizes = c;
  bad_sizes.sizes[0] += 1;
  EXPECT_THROW((void)quality_of(bad_sizes, Split::blocks, 1), std::invalid_argument);
  Clustering bad_centroids = c;
  bad_centroids.centroids.pop_back();
  EXPECT_THROW((void)quality_of(bad_centroids, Split::blocks, 1), std::invalid_argument);
}

TEST(KmeansPickK, HighestSilhouetteTiesToTheSmallerK) {
  const std::vector<SweepPoint> sweep = {{.k = 6, .inertia = 10, .calinski_harabasz = 50, .silhouette = 0.40},
                                         {.k = 4, .inertia = 20, .calinski_harabasz = 90, .silhouette = 0.55},
                                         {.k = 5, .inertia = 15, .calinski_harabasz = 70, .silhouette = 0.30},
                                         {.k = 8, .inertia = 5, .calinski_harabasz = 40, .silhouette = 0.55},
                                         {.k = 7, .inertia = 7, .calinski_harabasz = 30, .silhouette = 0.10}};
  EXPECT_EQ(pick_k(sweep), 1u);  // k = 4 and k = 8 tie: the smaller
  std::vector<SweepPoint> reversed(sweep.rbegin(), sweep.rend());
  EXPECT_EQ(reversed[pick_k(reversed)].k, 4u);
  std::vector<SweepPoint> clear_winner = sweep;
  clear_winner[2].silhouette = 0.9;
  EXPECT_EQ(pick_k(clear_winner), 2u);
  EXPECT_EQ(pick_k(std::span<const SweepPoint>(sweep).first(1)), 0u);
  EXPECT_THROW((void)pick_k({}), std::invalid_argument);
}

}  // namespace
}  // namespace omniseg::kmeans
