// algorithms/kmeans/quality.hpp — how good a clustering is, and which k of a sweep to keep.
//
// Owns: the Calinski–Harabasz index and a sampled silhouette score of a row-sharded clustering,
// both with the same bits on any number of ranks, and the rule that picks k from a sweep
// (`omniseg kmeans --k 4:16`). Does not own: the clustering itself (algorithms/kmeans/lloyd.hpp)
// or how the scores are reported.
//
// Calinski–Harabasz: [B / (k − 1)] / [W / (n − k)], B = Σ_j n_j ‖c_j − mean‖² (the mean from exact
// column sums), W = the inertia, k = the number of non-empty clusters. Defined as 0 when k = 1 or
// n = k (no between- or no within-cluster degrees of freedom; scikit-learn refuses k = 1) and, as
// scikit-learn does, as 1 when W = 0 with n > k.
//
// Silhouette: the exact silhouette (scikit-learn's silhouette_score) of a sample of
// min(n, kSilhouetteSampleRows) rows with their own labels: a(i) the mean distance to the rest of
// its cluster within the sample, b(i) the smallest mean distance to another cluster present in the
// sample, s(i) = (b − a) / max(a, b), 0 for a singleton (and for a = b = 0); the score is the mean of
// s(i). The sample is the rows with the smallest keyed random numbers (seed, global row): it does not
// depend on the rank count, on k or on the labels, so every k of a sweep is scored on the same rows.
// The O(s²·d) work is split across ranks by sample row; the s(i) are summed in sample order. The
// score is 0 when the sample holds fewer than two clusters (scikit-learn refuses that case).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "algorithms/linalg/row_block.hpp"
#include "engine/communicator.hpp"

namespace omniseg::kmeans {

/// Rows the silhouette is estimated on: O(s²·d) work, and a standard error of the mean well below
/// 0.01 for typical spreads of s(i).
inline constexpr std::uint64_t kSilhouetteSampleRows = 2000;
/// The random stream (the key's second word) that orders rows for the silhouette sample: row g gets
/// the first 64 bits of CounterRng(seed, kSilhouetteSampleStream).draws(g); the sample is the rows
/// with the smallest values (ties by row id).
inline constexpr std::uint64_t kSilhouetteSampleStream = 0x6b6d7175616c0001;  // "kmqual" + 1

struct ClusterQuality {
  double calinski_harabasz = 0;
  double silhouette = 0;
  std::uint64_t silhouette_sample = 0;  ///< rows the silhouette was computed on
};

/// Collective. `local_labels` (one per local row, in [0, k)) are this rank's labels; `centroids`
/// (k × d row-major), `sizes` (k, summing to n) and `inertia` describe the whole clustering and are
/// the same on every rank. Identical result on every rank and for any rank count. Throws
/// std::invalid_argument on every rank when the shapes do not fit or a label is out of range.
[[nodiscard]] ClusterQuality cluster_quality(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                             std::span<const std::int32_t> local_labels,
                                             std::span<const double> centroids, std::span<const std::uint64_t> sizes,
                                             double inertia, std::uint64_t seed);

/// One k of a sweep.
struct SweepPoint {
  std::uint64_t k = 0;
  double inertia = 0;
  double calinski_harabasz = 0;
  double silhouette = 0;
};

/// The index in `sweep` (non-empty, any order) of the k to keep: the highest silhouette, ties to
/// the smaller k. Why the silhouette: inertia falls with every added cluster and has no optimum
/// of its own (an elbow is a judgement call); the silhouette is bounded in [−1, 1], peaks where
/// clusters are both tight and apart, and here is measured on the same sample rows for every k, so
/// the comparison between k is paired rather than between different samples. Calinski–Harabasz is
/// reported beside it as a second opinion. Ties go to the smaller k: as well separated, and fewer
/// segments are cheaper to act on.
[[nodiscard]] std::size_t pick_k(std::span<const SweepPoint> sweep);

}  // namespace omniseg::kmeans
