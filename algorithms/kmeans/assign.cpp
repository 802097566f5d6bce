#include "algorithms/kmeans/assign.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "algorithms/linalg/blas.hpp"

namespace omniseg::kmeans {
namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();
/// Lanes of the blocked transposed centres: a fixed count the compiler vectorises without a tail.
constexpr std::uint64_t lanes = 8;

double sum_of_squares(const double* x, std::uint64_t d) {
  double sum = 0;
  for (std::uint64_t col = 0; col < d; ++col) sum += x[col] * x[col];
  return sum;
}

/// Keeps the smallest and second-smallest value seen and the index of the smallest; a later
/// index equal to the best never replaces it (ties go to the lowest index).
struct RunningNearest {
  double best = infinity;
  double second = infinity;
  std::int32_t label = 0;

  void offer(double value, std::int32_t index) {
    if (value < best) {
      second = best;
      best = value;
      label = index;
    } else if (value < second) {
      second = value;
    }
  }
};

}  // namespace

double squared_distance(const double* x, const double* c, std::uint64_t d) {
  double sum = 0;
  for (std::uint64_t col = 0; col < d; ++col) {
    const double diff = x[col] - c[col];
    sum += diff * diff;
  }
  return sum;
}

double bound_slack(std::uint64_t d) {
  // squared_distance errs by at most (d + 2) units of 2^-53 relative, its root by half that plus
  // one; this is four times more, so sums of a few such values stay covered too.
  return (static_cast<double>(d) + 16) * 0x1p-51;
}

CentreSet::CentreSet(std::span<const double> values, std::uint64_t k, std::uint64_t d, bool with_half_gaps)
    : k_(k), d_(d), padded_k_((k + lanes - 1) / lanes * lanes), values_(values.begin(), values.end()) {
  if (k == 0 || d == 0 || values.size() != k * d) {
    throw std::invalid_argument("CentreSet: need k >= 1 centres of d >= 1 columns, k × d values");
  }
  squared_norms_.resize(k);
  for (std::uint64_t j = 0; j < k; ++j) {
    squared_norms_[j] = sum_of_squares(centre(j), d);
    largest_norm_ = std::max(largest_norm_, std::sqrt(squared_norms_[j]));
  }
  // Blocked transpose: block b holds centres [b·lanes, (b+1)·lanes) column after column.
  transposed_.assign(padded_k_ * d, 0.0);
  for (std::uint64_t j = 0; j < k; ++j) {
    double* block = transposed_.data() + (j / lanes) * d * lanes;
    for (std::uint64_t col = 0; col < d; ++col) block[col * lanes + j % lanes] = centre(j)[col];
  }
  if (!with_half_gaps) return;
  const double slack = bound_slack(d);
  half_gaps_.assign(k, infinity);
  for (std::uint64_t a = 0; a < k; ++a) {
    for (std::uint64_t b = a + 1; b < k; ++b) {
      const double half = 0.5 * std::sqrt(squared_distance(centre(a), centre(b), d)) * (1 - slack);
      half_gaps_[a] = std::min(half_gaps_[a], half);
      half_gaps_[b] = std::min(half_gaps_[b], half);
    }
  }
}

std::array<double, distance_pairs> squared_distances_of_pairs(const std::array<const double*, distance_pairs>& x,
                                                             const std::array<const double*, distance_pairs>& c,
                                                             std::uint64_t d) {
  std::array<double, distance_pairs> sums{};
  for (std::uint64_t col = 0; col < d; ++col) {
#pragma GCC unroll 4
    for (std::size_t r = 0; r < distance_pairs; ++r) {
      const double diff = x[r][col] - c[r][col];
      sums[r] += diff * diff;
    }
  }
  return sums;
}

// Also compiled for AVX2 (chosen at load time): the lanes then run 4 wide with the same operations
// (no FMA: AVX2 does not imply it), so the same bits.
#if defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void squared_distances_to_all(const double* x, const CentreSet& centres, std::span<double> out) {
  const std::uint64_t d = centres.d();
  for (std::uint64_t first = 0; first < centres.padded_k(); first += lanes) {
    const double* block = centres.transposed() + first * d;
    std::array<double, lanes> sums{};
    for (std::uint64_t col = 0; col < d; ++col) {
      const double value = x[col];
      const double* row = block + col * lanes;
      // Each lane sums its centre's columns in order, exactly as squared_distance does; unrolled,
      // the sums stay in vector registers.
#pragma GCC unroll 8
      for (std::uint64_t lane = 0; lane < lanes; ++lane) {
        const double diff = value - row[lane];
        sums[lane] += diff * diff;
      }
    }
    std::copy(sums.begin(), sums.end(), out.begin() + static_cast<std::ptrdiff_t>(first));
  }
}

NearestTwo nearest_two(std::span<const double> values) {
  RunningNearest nearest;
  for (std::size_t j = 0; j < values.size(); ++j) nearest.offer(values[j], static_cast<std::int32_t>(j));
  return {nearest.label, nearest.best, nearest.second};
}

namespace {

NearestTwo nearest_in_row_portable(const double* row, const double* norms, std::uint64_t padded) {
  std::array<double, lanes> best, second;
  best.fill(infinity);
  second.fill(infinity);
  for (std::uint64_t first = 0; first < padded; first += lanes) {
    for (std::uint64_t lane = 0; lane < lanes; ++lane) {
      const double score = norms[first + lane] + row[first + lane];
      second[lane] = std::min(second[lane], std::max(best[lane], score));
      best[lane] = std::min(best[lane], score);
    }
  }
  NearestTwo nearest{0, infinity, infinity};
  for (std::uint64_t lane = 0; lane < lanes; ++lane) {
    nearest.second = std::min({nearest.second, second[lane], std::max(nearest.best, best[lane])});
    nearest.best = std::min(nearest.best, best[lane]);
  }
  for (std::uint64_t j = 0; j < padded; ++j) {
    if (norms[j] + row[j] == nearest.best) {
      nearest.label = static_cast<std::int32_t>(j);
      break;
    }
  }
  return nearest;
}

#if defined(__x86_64__)
/// 4-wide: minpd(a, b) is exactly a < b ? a : b and maxpd(a, b) a > b ? a : b, so with the adds
/// being the same correctly rounded operation, every value matches the portable version's.
__attribute__((target("avx2"))) NearestTwo nearest_in_row_avx2(const double* row, const double* norms,
                                                               std::uint64_t padded) {
  __m256d best[2], second[2];  // lanes 0-3 and 4-7 of each block of 8
  for (int half = 0; half < 2; ++half) best[half] = second[half] = _mm256_set1_pd(infinity);
  for (std::uint64_t first = 0; first < padded; first += lanes) {
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {  // unrolled: the minima stay in registers
      const std::uint64_t at = first + 4 * static_cast<std::uint64_t>(half);
      const __m256d score = _mm256_add_pd(_mm256_loadu_pd(norms + at), _mm256_loadu_pd(row + at));
      second[half] = _mm256_min_pd(_mm256_max_pd(best[half], score), second[half]);
      best[half] = _mm256_min_pd(score, best[half]);
    }
  }
  // Merging (b, s) with (b', s'): the best is min(b, b'), the second min(s, s', max(b, b')).
  second[0] = _mm256_min_pd(_mm256_min_pd(second[0], second[1]), _mm256_max_pd(best[0], best[1]));
  best[0] = _mm256_min_pd(best[0], best[1]);
  __m128d b = _mm256_castpd256_pd128(best[0]), s = _mm256_castpd256_pd128(second[0]);
  const __m128d high_b = _mm256_extractf128_pd(best[0], 1), high_s = _mm256_extractf128_pd(second[0], 1);
  s = _mm_min_pd(_mm_min_pd(s, high_s), _mm_max_pd(b, high_b));
  b = _mm_min_pd(b, high_b);
  const __m128d odd_b = _mm_unpackhi_pd(b, b), odd_s = _mm_unpackhi_pd(s, s);
  s = _mm_min_pd(_mm_min_pd(s, odd_s), _mm_max_pd(b, odd_b));
  b = _mm_min_pd(b, odd_b);
  NearestTwo nearest{0, _mm_cvtsd_f64(b), _mm_cvtsd_f64(s)};
  const __m256d target = _mm256_set1_pd(nearest.best);
  for (std::uint64_t at = 0; at < padded; at += 4) {
    const __m256d score = _mm256_add_pd(_mm256_loadu_pd(norms + at), _mm256_loadu_pd(row + at));
    const int hits = _mm256_movemask_pd(_mm256_cmp_pd(score, target, _CMP_EQ_OQ));
    if (hits != 0) {
      nearest.label = static_cast<std::int32_t>(at) + __builtin_ctz(static_cast<unsigned>(hits));
      break;
    }
  }
  return nearest;
}
#endif

}  // namespace

bool cpu_runs(RowKernel kernel) {
  if (kernel == RowKernel::portable) return true;
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

NearestTwo nearest_in_row(const double* row, const double* norms, std::uint64_t padded, RowKernel kernel) {
#if defined(__x86_64__)
  if (kernel == RowKernel::avx2) return nearest_in_row_avx2(row, norms, padded);
#endif
  if (kernel != RowKernel::portable) throw std::invalid_argument("nearest_in_row: this CPU cannot run that kernel");
  return nearest_in_row_portable(row, norms, padded);
}

namespace {

/// Folds a block of one row's scores into the smallest and second-smallest score of each group.
void fold_group_scores(const double* row, const double* norms, std::uint64_t block, const std::int32_t* group_of,
                       double* smallest, double* second) {
  for (std::uint64_t j = 0; j < block; ++j) {
    const auto g = static_cast<std::uint64_t>(group_of[j]);
    const double score = norms[j] + row[j];  // the same add as nearest_in_row's
    second[g] = std::min(second[g], std::max(smallest[g], score));
    smallest[g] = std::min(smallest[g], score);
  }
}

}  // namespace

void nearest_by_gemm(const linalg::RowBlockView& data, const CentreSet& centres, std::span<std::int32_t> labels,
                     std::span<double> best_scores, std::span<double> second_scores, GemmWorkspace& workspace,
                     const GroupScores* groups) {
  const std::uint64_t d = data.columns, k = centres.k();
  if (data.local_rows == 0) return;
  const std::uint64_t widest_block = std::min(k, centre_block);
  const std::uint64_t stride = (widest_block + lanes - 1) / lanes * lanes;  // score row, padded
  workspace.padded_tile.resize(tile_rows * d);
  workspace.scores.assign(tile_rows * stride, infinity);  // the padding columns stay +infinity
  workspace.block_norms.resize(stride);
  const std::uint64_t group_count = groups != nullptr ? groups->count : 0;
  workspace.group_smallest.resize(tile_rows * group_count);
  workspace.group_second.resize(tile_rows * group_count);
  std::array<RunningNearest, tile_rows> nearest;
  static const RowKernel row_kernel = cpu_runs(RowKernel::avx2) ? RowKernel::avx2 : RowKernel::portable;
  const std::uint64_t first_row = data.first_global_row, end_row = first_row + data.local_rows;
  for (std::uint64_t tile_begin = first_row / tile_rows * tile_rows; tile_begin < end_row; tile_begin += tile_rows) {
    const std::uint64_t begin = std::max(first_row, tile_begin), end = std::min(end_row, tile_begin + tile_rows);
    const std::uint64_t first = begin - tile_begin, last = end - tile_begin;  // positions within the tile
    const double* tile = nullptr;
    if (first == 0 && last == tile_rows) {
      tile = data.row(tile_begin - first_row);  // a whole tile: read in place
    } else {
      // An edge of the block: the rows go where they sit in their global tile, the rest is zero,
      // so the GEMM sees the same shape and positions as on a rank that holds the whole tile.
      std::fill(workspace.padded_tile.begin(), workspace.padded_tile.end(), 0.0);
      std::copy(data.row(begin - first_row), data.row(end - first_row),
                workspace.padded_tile.begin() + static_cast<std::ptrdiff_t>(first * d));
      tile = workspace.padded_tile.data();
    }
    std::fill(nearest.begin() + static_cast<std::ptrdiff_t>(first), nearest.begin() + static_cast<std::ptrdiff_t>(last),
              RunningNearest{});
    std::fill(workspace.group_smallest.begin(), workspace.group_smallest.end(), infinity);
    std::fill(workspace.group_second.begin(), workspace.group_second.end(), infinity);
    for (std::uint64_t block_begin = 0; block_begin < k; block_begin += centre_block) {
      const std::uint64_t block = std::min(centre_block, k - block_begin);
      const std::uint64_t padded = (block + lanes - 1) / lanes * lanes;
      for (std::uint64_t j = 0; j < padded; ++j) {
        workspace.block_norms[j] = j < block ? centres.squared_norm(block_begin + j) : infinity;
      }
      double* scores = workspace.scores.data();
      // The call's shape (tile_rows × block × d) is what fixes a row's bits; the leading
      // dimension of the scores is only where they land.
      linalg::gemm_row_major(linalg::Op::none, linalg::Op::transpose, tile_rows, static_cast<std::int64_t>(block),
                             static_cast<std::int64_t>(d), -2.0, tile, static_cast<std::int64_t>(d),
                             centres.centre(block_begin), static_cast<std::int64_t>(d), 0.0, scores,
                             static_cast<std::int64_t>(stride));
      for (std::uint64_t position = first; position < last; ++position) {
        const NearestTwo in_block =
            nearest_in_row(scores + position * stride, workspace.block_norms.data(), padded, row_kernel);
        RunningNearest& running = nearest[position];
        // Merge in index order: an equal minimum of a later block never takes the label.
        if (in_block.best < running.best) {
          running.second = std::min(running.best, in_block.second);
          running.best = in_block.best;
          running.label = static_cast<std::int32_t>(block_begin) + in_block.label;
        } else {
          running.second = std::min(running.second, in_block.best);
        }
        if (group_count > 0) {
          const std::uint64_t at = position * group_count;
          fold_group_scores(scores + position * stride, workspace.block_norms.data(), block,
                            groups->group_of.data() + block_begin, workspace.group_smallest.data() + at,
                            workspace.group_second.data() + at);
        }
      }
    }
    for (std::uint64_t position = first; position < last; ++position) {
      const std::uint64_t local = tile_begin + position - first_row;
      labels[local] = nearest[position].label;
      if (!best_scores.empty()) best_scores[local] = nearest[position].best;
      if (!second_scores.empty()) second_scores[local] = nearest[position].second;
      if (group_count == 0) continue;
      // The label's own group is bounded by its other centres: its second-smallest score.
      const double* smallest = workspace.group_smallest.data() + position * group_count;
      double* out = groups->scores.data() + local * group_count;
      std::copy(smallest, smallest + group_count, out);
      const auto label = static_cast<std::uint64_t>(nearest[position].label);
      const auto own = static_cast<std::uint64_t>(groups->group_of[label]);
      out[own] = workspace.group_second[position * group_count + own];
    }
  }
}

std::vector<double> row_squared_norms(const linalg::RowBlockView& data) {
  std::vector<double> norms(data.local_rows);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) norms[i] = sum_of_squares(data.row(i), data.columns);
  return norms;
}

CentreDrift centre_drift(std::span<const double> old_values, std::span<const double> new_values, std::uint64_t k,
                         std::uint64_t d) {
  CentreDrift result;
  result.drift.resize(k);
  for (std::uint64_t j = 0; j < k; ++j) {
    result.drift[j] = std::sqrt(squared_distance(old_values.data() + j * d, new_values.data() + j * d, d));
    if (result.drift[j] > result.largest) {
      result.largest = result.drift[j];
      result.largest_centre = j;
    }
  }
  for (std::uint64_t j = 0; j < k; ++j) {
    if (j != result.largest_centre) result.second_largest = std::max(result.second_largest, result.drift[j]);
  }
  return result;
}

void group_bounds_from_scores(std::span<const double> row_norms, const CentreSet& centres,
                              std::span<const double> best_scores, std::span<const double> group_scores,
                              std::uint64_t groups, std::span<double> upper, std::span<double> lower) {
  const double slack = bound_slack(centres.d());
  // |computed (‖x‖² + score) − true d²| <= (d + 4)·2^-52·(‖x‖ + ‖c‖)² (γ_d for the dot product,
  // the norms and the adds); twice that is allowed for.
  const double score_error = (2 * static_cast<double>(centres.d()) + 8) * 0x1p-52;
  for (std::size_t i = 0; i < row_norms.size(); ++i) {
    const double reach = std::sqrt(row_norms[i]) + centres.largest_norm();
    const double error = score_error * reach * reach;
    upper[i] = std::sqrt(std::max(0.0, row_norms[i] + best_scores[i] + error)) * (1 + slack);
    for (std::size_t at = i * groups; at < (i + 1) * groups; ++at) {
      if (std::isinf(group_scores[at])) {
        lower[at] = infinity;
        continue;
      }
      const double squared = row_norms[i] + group_scores[at] - error;
      lower[at] = squared > 0 ? std::sqrt(squared) * (1 - slack) : 0.0;
    }
  }
}

void bounds_from_scores(std::span<const double> row_norms, const CentreSet& centres, std::span<const double> best_scores,
                        std::span<const double> second_scores, std::span<double> upper, std::span<double> lower) {
  // One group of all centres: its smallest score other than the label's is the second smallest.
  group_bounds_from_scores(row_norms, centres, best_scores, second_scores, 1, upper, lower);
}

std::uint64_t widen_bounds(std::span<const std::int32_t> labels, const CentreDrift& drift, const CentreSet& centres,
                           std::span<double> upper, std::span<double> lower) {
  const double slack = bound_slack(centres.d());
  std::uint64_t failing = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto label = static_cast<std::uint64_t>(labels[i]);
    const double own = drift.drift[label];
    if (own != 0) upper[i] = (upper[i] + own) * (1 + slack);
    const double others = label == drift.largest_centre ? drift.second_largest : drift.largest;
    if (others != 0 && std::isfinite(lower[i])) {
      lower[i] = std::max(0.0, lower[i] - others - slack * (lower[i] + others));
    }
    failing += upper[i] < std::max(lower[i], centres.half_gap(label)) ? 0 : 1;
  }
  return failing;
}

namespace {

/// The rows of one Hamerly step whose bounds failed, handled distance_pairs at a time.
class FailingRows {
 public:
  FailingRows(const linalg::RowBlockView& data, const CentreSet& centres, std::span<const std::int32_t> labels,
              std::span<std::int32_t> next_labels, std::span<double> upper, std::span<double> lower)
      : data_(data), centres_(centres), labels_(labels), next_labels_(next_labels), upper_(upper), lower_(lower),
        slack_(bound_slack(data.columns)), distances_(centres.padded_k()) {}

  void add(std::uint64_t row, double proof) {
    rows_[waiting_] = row;
    proofs_[waiting_] = proof;
    if (++waiting_ == distance_pairs) flush();
  }

  /// Tightens the waiting rows' upper bounds with one distance each (squared_distance's sum, four
  /// rows at once); those still unproven get all k distances.
  void flush() {
    if (waiting_ == 0) return;
    std::array<const double*, distance_pairs> x{}, c{};
    for (std::size_t r = 0; r < distance_pairs; ++r) {
      const std::uint64_t row = rows_[r < waiting_ ? r : 0];  // spare lanes repeat the first row
      x[r] = data_.row(row);
      c[r] = centres_.centre(static_cast<std::uint64_t>(labels_[row]));
    }
    const auto sums = squared_distances_of_pairs(x, c, data_.columns);
    for (std::size_t r = 0; r < waiting_; ++r) {
      const std::uint64_t row = rows_[r];
      upper_[row] = std::sqrt(sums[r]) * (1 + slack_);
      if (upper_[row] < proofs_[r]) continue;
      squared_distances_to_all(data_.row(row), centres_, distances_);
      const auto nearest = nearest_two(std::span<const double>(distances_).first(centres_.k()));
      next_labels_[row] = nearest.label;
      upper_[row] = std::sqrt(nearest.best) * (1 + slack_);
      lower_[row] = std::isinf(nearest.second) ? infinity : std::sqrt(nearest.second) * (1 - slack_);
      ++full_scans_;
    }
    waiting_ = 0;
  }

  [[nodiscard]] std::uint64_t full_scans() const { return full_scans_; }

 private:
  const linalg::RowBlockView& data_;
  const CentreSet& centres_;
  std::span<const std::int32_t> labels_;
  std::span<std::int32_t> next_labels_;
  std::span<double> upper_, lower_;
  double slack_;
  std::vector<double> distances_;
  std::array<std::uint64_t, distance_pairs> rows_{};
  std::array<double, distance_pairs> proofs_{};
  std::size_t waiting_ = 0;
  std::uint64_t full_scans_ = 0;
};

}  // namespace

std::uint64_t hamerly_relabel(const linalg::RowBlockView& data, const CentreSet& centres,
                              std::span<const std::int32_t> labels, std::span<std::int32_t> next_labels,
                              std::span<double> upper, std::span<double> lower) {
  FailingRows failing(data, centres, labels, next_labels, upper, lower);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    next_labels[i] = labels[i];
    const double proof = std::max(lower[i], centres.half_gap(static_cast<std::uint64_t>(labels[i])));
    if (!(upper[i] < proof)) failing.add(i, proof);
  }
  failing.flush();
  return failing.full_scans();
}

void add_rows_to_sums(const linalg::RowBlockView& data, std::span<const std::int32_t> labels,
                      const engine::FixedPointScales& scales, std::span<engine::Int128> sums) {
  const std::uint64_t d = data.columns, stride = sums_stride(d);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    const double* x = data.row(i);
    engine::Int128* cluster = sums.data() + static_cast<std::uint64_t>(labels[i]) * stride;
    for (std::uint64_t col = 0; col < d; ++col) cluster[col] += scales.to_fixed(col, x[col]);
    cluster[d] += 1;
  }
}

std::uint64_t move_changed_rows(const linalg::RowBlockView& data, std::span<const std::int32_t> old_labels,
                                std::span<const std::int32_t> new_labels, const engine::FixedPointScales& scales,
                                std::span<engine::Int128> sums) {
  const std::uint64_t d = data.columns, stride = sums_stride(d);
  std::uint64_t changed = 0;
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    if (old_labels[i] == new_labels[i]) continue;
    const double* x = data.row(i);
    engine::Int128* from = sums.data() + static_cast<std::uint64_t>(old_labels[i]) * stride;
    engine::Int128* to = sums.data() + static_cast<std::uint64_t>(new_labels[i]) * stride;
    for (std::uint64_t col = 0; col < d; ++col) {
      const std::int64_t fixed = scales.to_fixed(col, x[col]);
      from[col] -= fixed;
      to[col] += fixed;
    }
    from[d] -= 1;
    to[d] += 1;
    ++changed;
  }
  return changed;
}

std::vector<FarPoint> farthest_rows(const linalg::RowBlockView& data, const CentreSet& centres,
                                    std::span<const std::int32_t> labels, std::uint64_t count) {
  std::vector<FarPoint> points(data.local_rows);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    points[i] = {squared_distance(data.row(i), centres.centre(static_cast<std::uint64_t>(labels[i])), data.columns),
                 data.global_row(i)};
  }
  const auto kept = static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(count, points.size()));
  std::partial_sort(points.begin(), points.begin() + kept, points.end(), farther);
  points.resize(static_cast<std::size_t>(kept));
  return points;
}

}  // namespace omniseg::kmeans
