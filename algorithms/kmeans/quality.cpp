#include "algorithms/kmeans/quality.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "algorithms/linalg/column_moments.hpp"
#include "engine/block_distribution.hpp"
#include "engine/random.hpp"

namespace omniseg::kmeans {
namespace {

double calinski_harabasz(const engine::Communicator& comm, const linalg::RowBlockView& data,
                         std::span<const double> centroids, std::span<const std::uint64_t> sizes, double inertia) {
  const auto mean = linalg::exact_column_moments(comm, data, /*with_deviation=*/false).mean;
  const std::size_t d = data.columns;
  double between = 0;  // B: centroids, sizes and mean are the same on every rank, and so is this order
  std::uint64_t clusters = 0;
  for (std::size_t j = 0; j < sizes.size(); ++j) {
    if (sizes[j] == 0) continue;
    ++clusters;
    double squared = 0;
    for (std::size_t c = 0; c < d; ++c) {
      const double difference = centroids[j * d + c] - mean[c];
      squared += difference * difference;
    }
    between += static_cast<double>(sizes[j]) * squared;
  }
  const std::uint64_t n = data.global_rows;
  if (clusters <= 1 || n <= clusters) return 0;
  if (inertia == 0) return 1;
  // scikit-learn's expression, so that the last bits agree with it as far as B and W do.
  return between * static_cast<double>(n - clusters) / (inertia * static_cast<double>(clusters - 1));
}

struct SampleKey {
  std::uint64_t key = 0;
  std::uint64_t row = 0;
};

bool key_less(const SampleKey& a, const SampleKey& b) { return a.key != b.key ? a.key < b.key : a.row < b.row; }

/// The global rows of the silhouette sample, ascending: the `count` rows with the smallest keys.
/// Each rank offers its own smallest `count`, so the gathered list holds the global smallest.
std::vector<std::uint64_t> sample_rows(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                       std::uint64_t count, std::uint64_t seed) {
  const engine::CounterRng rng(seed, kSilhouetteSampleStream);
  std::vector<SampleKey> keys(data.local_rows);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    keys[i] = {.key = rng.draws(data.global_row(i)).next_u64(), .row = data.global_row(i)};
  }
  const auto keep_smallest = [count](std::vector<SampleKey>& list) {
    if (list.size() <= count) return;
    std::nth_element(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(count), list.end(), key_less);
    list.resize(count);
  };
  keep_smallest(keys);
  auto offered = comm.allgatherv(keys).data;
  keep_smallest(offered);
  std::vector<std::uint64_t> rows;
  rows.reserve(offered.size());
  for (const SampleKey& key : offered) rows.push_back(key.row);
  std::sort(rows.begin(), rows.end());
  return rows;
}

double distance(const double* a, const double* b, std::size_t d) {
  double squared = 0;
  for (std::size_t c = 0; c < d; ++c) {
    const double difference = a[c] - b[c];
    squared += difference * difference;
  }
  return std::sqrt(squared);
}

/// silhouette_score of the sample (rows s × d, labels renumbered 0..clusters-1), the s(i) of this
/// rank's share of sample rows computed here and summed in sample order on every rank.
double sample_silhouette(const engine::Communicator& comm, std::span<const double> rows, std::size_t d,
                         std::span<const std::uint32_t> labels, std::size_t clusters) {
  const std::uint64_t s = labels.size();
  std::vector<std::uint64_t> members(clusters, 0);
  for (const std::uint32_t label : labels) ++members[label];
  const engine::RowRange share = engine::BlockDistribution(s, comm.size()).range(comm.rank());
  std::vector<double> scores;
  scores.reserve(share.size());
  std::vector<double> to_cluster(clusters);
  for (std::uint64_t i = share.begin; i < share.end; ++i) {
    std::fill(to_cluster.begin(), to_cluster.end(), 0.0);
    for (std::uint64_t j = 0; j < s; ++j) to_cluster[labels[j]] += distance(&rows[i * d], &rows[j * d], d);
    const std::uint32_t own = labels[i];
    if (members[own] == 1) {
      scores.push_back(0);  // a singleton: s(i) = 0 by definition
      continue;
    }
    const double within = to_cluster[own] / static_cast<double>(members[own] - 1);
    double nearest_other = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < clusters; ++c) {
      if (c != own) nearest_other = std::min(nearest_other, to_cluster[c] / static_cast<double>(members[c]));
    }
    const double scale = std::max(within, nearest_other);
    scores.push_back(scale > 0 ? (nearest_other - within) / scale : 0.0);
  }
  const auto all = comm.allgatherv(scores).data;  // in sample order
  double sum = 0;
  for (const double score : all) sum += score;
  return sum / static_cast<double>(s);
}

}  // namespace

ClusterQuality cluster_quality(const engine::Communicator& comm, const linalg::RowBlockView& data,
                               std::span<const std::int32_t> local_labels, std::span<const double> centroids,
                               std::span<const std::uint64_t> sizes, double inertia, std::uint64_t seed) {
  const std::size_t d = data.columns, k = sizes.size();
  // Shared inputs throw everywhere or nowhere; the labels are checked by every rank, then agreed.
  if (k == 0 || d == 0 || centroids.size() != k * d) {
    throw std::invalid_argument("cluster_quality: centroids must be k × d with k = sizes.size() >= 1");
  }
  std::uint64_t total = 0;
  for (const std::uint64_t size : sizes) total += size;
  if (total != data.global_rows || total == 0) {
    throw std::invalid_argument("cluster_quality: the cluster sizes do not add up to the number of rows");
  }
  bool labels_ok = local_labels.size() == data.local_rows && data.values.size() == data.local_rows * d;
  for (const std::int32_t label : local_labels) labels_ok = labels_ok && label >= 0 && static_cast<std::size_t>(label) < k;
  if (!comm.all_of(labels_ok)) {
    throw std::invalid_argument("cluster_quality: a rank's labels do not match its rows or lie outside [0, k)");
  }

  ClusterQuality quality;
  quality.calinski_harabasz = calinski_harabasz(comm, data, centroids, sizes, inertia);

  const std::vector<std::uint64_t> rows = sample_rows(comm, data, std::min(data.global_rows, kSilhouetteSampleRows), seed);
  // This rank's sample rows are a consecutive run of the sorted list; ranks contribute in rank
  // order, which is global row order, so the gathered sample is in the order of `rows`.
  const auto mine_begin = std::lower_bound(rows.begin(), rows.end(), data.first_global_row);
  const auto mine_end = std::lower_bound(mine_begin, rows.end(), data.first_global_row + data.local_rows);
  std::vector<double> my_values;
  std::vector<std::int32_t> my_labels;
  for (auto row = mine_begin; row != mine_end; ++row) {
    const std::uint64_t local = *row - data.first_global_row;
    my_values.insert(my_values.end(), data.row(local), data.row(local) + d);
    my_labels.push_back(local_labels[local]);
  }
  const auto values = comm.allgatherv(my_values).data;
  const auto labels = comm.allgatherv(my_labels).data;

  // Clusters present in the sample, renumbered in label order (scikit-learn's LabelEncoder).
  std::vector<std::uint32_t> renumbered(k, 0);
  std::vector<bool> present(k, false);
  for (const std::int32_t label : labels) present[static_cast<std::size_t>(label)] = true;
  std::uint32_t clusters = 0;
  for (std::size_t j = 0; j < k; ++j) {
    if (present[j]) renumbered[j] = clusters++;
  }
  std::vector<std::uint32_t> sample_labels;
  sample_labels.reserve(labels.size());
  for (const std::int32_t label : labels) sample_labels.push_back(renumbered[static_cast<std::size_t>(label)]);

  quality.silhouette_sample = labels.size();
  quality.silhouette = clusters < 2 ? 0.0 : sample_silhouette(comm, values, d, sample_labels, clusters);
  return quality;
}

std::size_t pick_k(std::span<const SweepPoint> sweep) {
  if (sweep.empty()) throw std::invalid_argument("pick_k: the sweep is empty");
  std::size_t best = 0;
  for (std::size_t i = 1; i < sweep.size(); ++i) {
    const bool higher = sweep[i].silhouette > sweep[best].silhouette;
    const bool tie_to_smaller = sweep[i].silhouette == sweep[best].silhouette && sweep[i].k < sweep[best].k;
    if (higher || tie_to_smaller) best = i;
  }
  return best;
}

}  // namespace omniseg::kmeans
