// algorithms/kmeans/assign.hpp — the local kernels of K-means: nearest centres, Hamerly bounds,
// exact centre sums and the points farthest from their centres. Pure and single-rank.
//
// Owns: (1) the GEMM assignment: scores ‖c‖² − 2x·c for tiles of rows aligned to GLOBAL row ids,
// every BLAS call of one shape (tile_rows × centre block × d), so a point's scores are the same bits
// on whichever rank holds it (partial tiles at a block's edges are copied into a zero-padded tile
// at the point's position); (2) the fixed scalar distance routine Σ(x−c)² every per-point decision
// uses; (3) Hamerly's bounds (one upper, one lower per point) moved by centre drift and refreshed,
// with slack against rounding so that a bound never claims more than the arithmetic proved;
// (4) per-cluster sums of fixed-point images (engine/exact_sum.hpp), exact in any order; (5) the
// local candidates for re-seeding empty clusters. Does not own: what crosses ranks, iteration
// control, convergence (algorithms/kmeans/lloyd.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "algorithms/linalg/row_block.hpp"
#include "engine/exact_sum.hpp"

namespace omniseg::kmeans {

/// Rows of one GEMM tile. Tile t covers global rows [t·tile_rows, (t+1)·tile_rows). Changing it
/// changes result bits (never their validity); it is a constant so that every rank agrees.
inline constexpr std::uint64_t tile_rows = 256;
/// Centres per GEMM call: a tile_rows × 128 score block is 256 KiB and stays in L2.
inline constexpr std::uint64_t centre_block = 128;

/// Σ_k (x_k − c_k)², summed in column order: the one routine behind every per-point distance, so
/// a point's distances are the same bits on any rank.
[[nodiscard]] double squared_distance(const double* x, const double* c, std::uint64_t d);

/// Relative slack that makes a computed distance (or a sum of two) a safe bound: several times the
/// rounding error of squared_distance over d columns and its square root.
[[nodiscard]] double bound_slack(std::uint64_t d);

/// The centres in the forms the kernels need, computed once per iteration (identically on every
/// rank, from the same centres).
class CentreSet {
 public:
  /// `values`: k × d row-major, k >= 1, d >= 1. The half gaps cost k²·d/2 and are computed only
  /// `with_half_gaps` (for Hamerly).
  CentreSet(std::span<const double> values, std::uint64_t k, std::uint64_t d, bool with_half_gaps);

  [[nodiscard]] std::uint64_t k() const { return k_; }
  [[nodiscard]] std::uint64_t d() const { return d_; }
  [[nodiscard]] const double* centre(std::uint64_t j) const { return values_.data() + j * d_; }
  [[nodiscard]] std::span<const double> values() const { return values_; }
  /// ‖c_j‖² (squared_distance to the origin).
  [[nodiscard]] double squared_norm(std::uint64_t j) const { return squared_norms_[j]; }
  /// max_j ‖c_j‖.
  [[nodiscard]] double largest_norm() const { return largest_norm_; }
  /// For Hamerly: a lower bound on half the distance from c_j to its nearest other centre
  /// (+infinity when k = 1). A point closer than this to c_j needs no other distance. Only when
  /// constructed with half gaps.
  [[nodiscard]] double half_gap(std::uint64_t j) const { return half_gaps_[j]; }
  /// Centres in blocks of 8, each block stored column after column (d × 8), zero-padded to
  /// padded_k centres: the layout of squared_distances_to_all.
  [[nodiscard]] const double* transposed() const { return transposed_.data(); }
  [[nodiscard]] std::uint64_t padded_k() const { return padded_k_; }

 private:
  std::uint64_t k_, d_, padded_k_;
  std::vector<double> values_;
  std::vector<double> squared_norms_;
  std::vector<double> half_gaps_;
  std::vector<double> transposed_;
  double largest_norm_ = 0;
};

/// Rows whose distances run side by side in squared_distances_of_pairs: independent chains, so the
/// CPU overlaps them.
inline constexpr std::size_t distance_pairs = 4;
/// squared_distance(x[r], c[r], d) for the distance_pairs pairs (r), the same bits, computed
/// together.
[[nodiscard]] std::array<double, distance_pairs> squared_distances_of_pairs(
    const std::array<const double*, distance_pairs>& x, const std::array<const double*, distance_pairs>& c,
    std::uint64_t d);

/// Squared distances from `x` to every centre, each the same bits as squared_distance(x, c_j).
/// `out` has room for centres.padded_k() values (the padding is scratch).
void squared_distances_to_all(const double* x, const CentreSet& centres, std::span<double> out);

/// The nearest centre by a list of squared distances or scores: lowest index on ties.
struct NearestTwo {
  std::int32_t label = 0;
  double best = 0;
  double second = 0;  ///< smallest value of any other centre; +infinity when k = 1
};
[[nodiscard]] NearestTwo nearest_two(std::span<const double> values);

/// Implementations of nearest_in_row; every one gives the same bits (min, max and compare are
/// exact, the adds the same correctly rounded operation), nearest_by_gemm takes the widest the
/// CPU runs.
enum class RowKernel : std::uint8_t { portable, avx2 };
[[nodiscard]] bool cpu_runs(RowKernel kernel);

/// The nearest centre of one row of GEMM output: scores norms[j] + row[j], `padded` a multiple of
/// 8 with norms +infinity beyond the real centres; the smallest and second-smallest score (lane
/// minima merged), the label the first index holding the smallest. Public for the tests that hold
/// the kernels to one result.
[[nodiscard]] NearestTwo nearest_in_row(const double* row, const double* norms, std::uint64_t padded,
                                        RowKernel kernel);

/// Reusable buffers of the GEMM assignment (a zero-padded tile, a score block, padded norms, the
/// group minima of a tile).
struct GemmWorkspace {
  std::vector<double> padded_tile;
  std::vector<double> scores;
  std::vector<double> block_norms;
  std::vector<double> group_smallest, group_second;
};

/// What nearest_by_gemm adds for Yinyang: per row and group of centres, the smallest score of the
/// group's centres other than the row's label (+infinity when the group holds only the label).
struct GroupScores {
  std::span<const std::int32_t> group_of;  ///< the group of every centre, groups 0..count−1
  std::uint64_t count = 0;
  std::span<double> scores;  ///< out: local rows × count, row after row
};

/// For every local row: label = argmin_j (‖c_j‖² − 2x·c_j), lowest j on ties, computed by
/// tile_rows × centre_block GEMMs aligned to global rows. `best_scores` and `second_scores`, unless
/// empty, get each row's smallest and second-smallest score (+infinity when k = 1), from which
/// bounds_from_scores derives Hamerly's bounds; `groups`, when given, gets the group minima from
/// which group_bounds_from_scores derives Yinyang's.
void nearest_by_gemm(const linalg::RowBlockView& data, const CentreSet& centres, std::span<std::int32_t> labels,
                     std::span<double> best_scores, std::span<double> second_scores, GemmWorkspace& workspace,
                     const GroupScores* groups = nullptr);

/// ‖x‖² of every local row (summed in column order).
[[nodiscard]] std::vector<double> row_squared_norms(const linalg::RowBlockView& data);

/// Yinyang's bounds straight after a GEMM assignment, as bounds_from_scores: upper from each row's
/// best score, lower[i·G + g] from group_scores[i·G + g] (GroupScores::scores, G groups). `upper`
/// may be the storage of `best_scores` and `lower` that of `group_scores`.
void group_bounds_from_scores(std::span<const double> row_norms, const CentreSet& centres,
                              std::span<const double> best_scores, std::span<const double> group_scores,
                              std::uint64_t groups, std::span<double> upper, std::span<double> lower);

// ---- Hamerly's bounds ------------------------------------------------------------------------
// upper[i] >= ‖x_i − c_label(i)‖ and lower[i] <= min_{j != label(i)} ‖x_i − c_j‖ hold for the
// centres the bounds were last moved to, whatever rounding happened on the way.

/// How far each centre moved since the bounds were last valid.
struct CentreDrift {
  std::vector<double> drift;        ///< ‖c_j(new) − c_j(old)‖ per centre
  double largest = 0;               ///< max_j drift
  double second_largest = 0;        ///< max over the other centres than `largest_centre`
  std::uint64_t largest_centre = 0;
};
/// `old_values` and `new_values`: k × d row-major.
[[nodiscard]] CentreDrift centre_drift(std::span<const double> old_values, std::span<const double> new_values,
                                       std::uint64_t k, std::uint64_t d);

/// Bounds straight after a GEMM assignment: ‖x‖² + score is a squared distance up to the GEMM's
/// rounding, so upper = √(‖x‖² + best + e) and lower = √(‖x‖² + second − e), e bounding that
/// rounding (the γ_d bound of a dot product, with a factor 2 to spare), each with bound_slack. Far
/// from the origin e grows (cancellation) and the bounds loosen; they never become wrong. `upper`
/// may be the storage of `best_scores` and `lower` that of `second_scores`.
void bounds_from_scores(std::span<const double> row_norms, const CentreSet& centres, std::span<const double> best_scores,
                        std::span<const double> second_scores, std::span<double> upper, std::span<double> lower);

/// The first half of a Hamerly step: moves every row's bounds by the centres' drift (upper up by
/// its centre's, lower down by the largest of the others') and returns how many rows' bounds no
/// longer prove their label against `centres` (the new ones): what the driver's choice between
/// Hamerly and a GEMM pass is based on.
std::uint64_t widen_bounds(std::span<const std::int32_t> labels, const CentreDrift& drift, const CentreSet& centres,
                           std::span<double> upper, std::span<double> lower);

/// The second half: rows whose bounds prove their label keep it; the others tighten the upper
/// bound with one distance and, if that does not prove it either, take the nearest centre by
/// squared_distances_to_all (lowest index on ties) with exact bounds. Writes every row's label to
/// `next_labels`; returns how many rows computed all k distances.
std::uint64_t hamerly_relabel(const linalg::RowBlockView& data, const CentreSet& centres,
                              std::span<const std::int32_t> labels, std::span<std::int32_t> next_labels,
                              std::span<double> upper, std::span<double> lower);

// ---- exact sums -----------------------------------------------------------------------------

/// Per-cluster sums in one flat array: cluster j owns [j·(d+1), (j+1)·(d+1)): d column sums of
/// fixed-point images, then the count. One array, so one exact allreduce carries both.
[[nodiscard]] inline std::uint64_t sums_stride(std::uint64_t d) { return d + 1; }

/// Adds every local row to its cluster's sums.
void add_rows_to_sums(const linalg::RowBlockView& data, std::span<const std::int32_t> labels,
                      const engine::FixedPointScales& scales, std::span<engine::Int128> sums);

/// For rows whose label changed: subtracts them from the old cluster and adds them to the new one.
/// Exact: the result equals add_rows_to_sums with `new_labels` bit for bit. Returns the number of
/// rows that changed.
std::uint64_t move_changed_rows(const linalg::RowBlockView& data, std::span<const std::int32_t> old_labels,
                                std::span<const std::int32_t> new_labels, const engine::FixedPointScales& scales,
                                std::span<engine::Int128> sums);

// ---- empty clusters -------------------------------------------------------------------------

/// A point as a candidate to re-seed an empty cluster.
struct FarPoint {
  double squared_distance = 0;  ///< to the centre of its cluster
  std::uint64_t global_row = 0;
};
/// Farther first; on equal distance, the lower global row first.
[[nodiscard]] inline bool farther(const FarPoint& a, const FarPoint& b) {
  if (a.squared_distance != b.squared_distance) return a.squared_distance > b.squared_distance;
  return a.global_row < b.global_row;
}

/// The `count` local rows farthest from their labels' centres, in `farther` order (fewer when the
/// block is smaller).
[[nodiscard]] std::vector<FarPoint> farthest_rows(const linalg::RowBlockView& data, const CentreSet& centres,
                                                  std::span<const std::int32_t> labels, std::uint64_t count);

}  // namespace omniseg::kmeans
