#include "algorithms/kmeans/lloyd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "algorithms/kmeans/assign.hpp"
#include "engine/errors.hpp"
#include "engine/exact_sum.hpp"
#include "engine/wall_clock.hpp"

namespace omniseg::kmeans {
namespace {

void check_arguments(const linalg::RowBlockView& data, std::span<const double> initial_centres,
                     const LloydOptions& options) {
  const std::uint64_t d = data.columns;
  if (d == 0 || initial_centres.empty() || initial_centres.size() % d != 0) {
    throw std::invalid_argument(fmt::format("k-means: initial centres must be k × {} values, got {}", d,
                                            initial_centres.size()));
  }
  const std::uint64_t k = initial_centres.size() / d;
  if (k > data.global_rows) {
    throw std::invalid_argument(fmt::format("k-means: k = {} exceeds the {} points", k, data.global_rows));
  }
  if (k > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::invalid_argument(fmt::format("k-means: k = {} does not fit the int32 labels", k));
  }
  if (options.max_iterations == 0) throw std::invalid_argument("k-means: max_iterations must be >= 1");
  if (!(options.tolerance >= 0)) throw std::invalid_argument("k-means: the tolerance must be >= 0");
}

[[noreturn]] void throw_too_large(bool centres, double magnitude) {
  throw InputError(fmt::format("k-means: values up to {:g} in magnitude are supported, the {} reach {:g}",
                               largest_supported_magnitude, centres ? "initial centres" : "data", magnitude));
}

/// Fixed-point scales of the data's columns (global largest magnitudes); rejects magnitudes whose
/// squares could overflow, in the data or in the initial centres.
engine::FixedPointScales column_scales(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                       std::span<const double> initial_centres) {
  const std::uint64_t d = data.columns;
  std::vector<double> largest(d, 0.0);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    const double* x = data.row(i);
    for (std::uint64_t col = 0; col < d; ++col) largest[col] = std::max(largest[col], std::abs(x[col]));
  }
  comm.allreduce_in_place(largest, engine::ReduceOp::max);
  double centre_largest = 0;
  for (const double value : initial_centres) centre_largest = std::max(centre_largest, std::abs(value));
  const double overall = std::max(centre_largest, *std::max_element(largest.begin(), largest.end()));
  if (!(overall <= largest_supported_magnitude)) throw_too_large(centre_largest > largest_supported_magnitude, overall);
  return engine::FixedPointScales::for_max_abs(largest);
}

/// The per-iteration state of one rank.
struct State {
  std::vector<std::int32_t> labels;       ///< the previous assignment (-1 before the first)
  std::vector<std::int32_t> next_labels;  ///< the assignment being made
  std::vector<double> upper, lower;       ///< Hamerly's bounds (empty without pruning)
  std::vector<double> row_norms;          ///< ‖x‖² per row, for bounds from GEMM scores
  bool bounds_valid = false;              ///< upper/lower hold for the previous centres
  CentreDrift drift;                      ///< from the previous centres to the current ones
  GemmWorkspace workspace;
};

struct AssignmentFacts {
  bool hamerly = false;
  std::uint64_t failing_bounds = 0;    ///< all ranks
  std::uint64_t local_full_scans = 0;  ///< this rank
};

/// Collective (when bounds are tracked). Fills state.next_labels with the nearest centre of every
/// local row and leaves the bounds valid for `centres`.
AssignmentFacts assign(const engine::Communicator& comm, const linalg::RowBlockView& data, const CentreSet& centres,
                       Pruning pruning, State& state) {
  AssignmentFacts facts;
  const bool track_bounds = pruning != Pruning::none;
  if (track_bounds && state.bounds_valid) {
    const std::uint64_t local_failing = widen_bounds(state.labels, state.drift, centres, state.upper, state.lower);
    facts.failing_bounds = comm.allreduce(local_failing, engine::ReduceOp::sum);
    facts.hamerly = pruning == Pruning::hamerly ||
                    static_cast<double>(facts.failing_bounds) <=
                        hamerly_max_failing_fraction * static_cast<double>(data.global_rows);
    if (facts.hamerly) {
      facts.local_full_scans = hamerly_relabel(data, centres, state.labels, state.next_labels, state.upper, state.lower);
      return facts;
    }
  }
  // The bounds' storage takes the two smallest scores, then the bounds made from them.
  const auto upper = track_bounds ? std::span<double>(state.upper) : std::span<double>();
  const auto lower = track_bounds ? std::span<double>(state.lower) : std::span<double>();
  nearest_by_gemm(data, centres, state.next_labels, upper, lower, state.workspace);
  if (track_bounds) {
    bounds_from_scores(state.row_norms, centres, upper, lower, upper, lower);
    state.bounds_valid = true;
  }
  return facts;
}

/// Collective. Re-seeds the empty clusters of `sums` as scikit-learn does: the i-th empty cluster
/// (ascending id) takes the i-th point farthest from its centre (ties to the lower global row),
/// which leaves its own cluster. Labels are not changed (so the sums no longer follow them). When
/// every point sits on its centre nothing moves. Returns how many clusters were re-seeded.
std::uint64_t reseed_empty_clusters(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                    const CentreSet& centres, std::span<const std::int32_t> labels,
                                    const engine::FixedPointScales& scales, std::vector<engine::Int128>& sums) {
  const std::uint64_t d = data.columns, stride = sums_stride(d);
  std::vector<std::uint64_t> empty;
  for (std::uint64_t j = 0; j < centres.k(); ++j) {
    if (sums[j * stride + d] == 0) empty.push_back(j);
  }
  if (empty.empty()) return 0;
  auto candidates = comm.allgatherv(farthest_rows(data, centres, labels, empty.size())).data;
  std::sort(candidates.begin(), candidates.end(), farther);
  candidates.resize(std::min(candidates.size(), empty.size()));
  if (candidates.empty() || candidates.front().squared_distance == 0) return 0;

  // The owners publish the chosen rows (global row, label, values), every rank applies the moves.
  struct ChosenRow {
    std::uint64_t global_row;
    std::int32_t label;
  };
  std::vector<ChosenRow> local_rows;
  std::vector<double> local_values;
  for (const FarPoint& point : candidates) {
    if (point.global_row < data.first_global_row || point.global_row >= data.first_global_row + data.local_rows) {
      continue;
    }
    const std::uint64_t local = point.global_row - data.first_global_row;
    local_rows.push_back({point.global_row, labels[local]});
    local_values.insert(local_values.end(), data.row(local), data.row(local) + d);
  }
  const auto rows = comm.allgatherv(local_rows).data;
  const auto values = comm.allgatherv(local_values).data;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const auto found = std::find_if(rows.begin(), rows.end(), [&](const ChosenRow& row) {
      return row.global_row == candidates[i].global_row;
    });
    const auto at = static_cast<std::size_t>(found - rows.begin());
    const double* x = values.data() + at * d;
    engine::Int128* from = sums.data() + static_cast<std::uint64_t>(found->label) * stride;
    engine::Int128* to = sums.data() + empty[i] * stride;
    for (std::uint64_t col = 0; col < d; ++col) {
      const std::int64_t fixed = scales.to_fixed(col, x[col]);
      from[col] -= fixed;
      to[col] = fixed;
    }
    from[d] -= 1;
    to[d] = 1;
  }
  return candidates.size();
}

/// Centres from exact sums: sum / count, or the old centre for a cluster left with no point.
void centres_from_sums(std::span<const engine::Int128> sums, const engine::FixedPointScales& scales,
                       std::span<const double> old_centres, std::uint64_t d, std::span<double> new_centres) {
  const std::uint64_t stride = sums_stride(d), k = old_centres.size() / d;
  for (std::uint64_t j = 0; j < k; ++j) {
    const engine::Int128* cluster = sums.data() + j * stride;
    const auto count = static_cast<double>(cluster[d]);
    for (std::uint64_t col = 0; col < d; ++col) {
      new_centres[j * d + col] = cluster[d] > 0 ? scales.to_double(col, cluster[col]) / count : old_centres[j * d + col];
    }
  }
}

/// Collective: Σ ‖x − c_label‖² over all points from each point's squared_distance, summed exactly:
/// each term is split into its fixed-point image (scaled by the global largest term) and the
/// remainder, which is exact in double and gets its own finer scale, so the sum keeps about 100
/// bits whatever the spread of the terms.
double exact_inertia(const engine::Communicator& comm, const linalg::RowBlockView& data, const CentreSet& centres,
                     std::span<const std::int32_t> labels) {
  std::vector<double> terms(data.local_rows);
  double largest = 0;
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    terms[i] = squared_distance(data.row(i), centres.centre(static_cast<std::uint64_t>(labels[i])), data.columns);
    largest = std::max(largest, terms[i]);
  }
  largest = comm.allreduce(largest, engine::ReduceOp::max);
  const auto coarse = engine::FixedPointScales::for_max_abs(std::span<const double>(&largest, 1));
  const double remainder_bound = 0.5 / coarse.multiplier(0);  // rounding to the nearest image
  const auto fine = engine::FixedPointScales::for_max_abs(std::span<const double>(&remainder_bound, 1));
  std::array<engine::Int128, 2> sums{0, 0};
  for (const double term : terms) {
    const std::int64_t image = coarse.to_fixed(0, term);
    sums[0] += image;
    sums[1] += fine.to_fixed(0, term - static_cast<double>(image) / coarse.multiplier(0));
  }
  comm.allreduce_exact_sum_in_place(sums);
  return coarse.to_double(0, sums[0]) + fine.to_double(0, sums[1]);
}

}  // namespace

void check_magnitudes(const engine::Communicator& comm, const linalg::RowBlockView& data) {
  double largest = 0;
  for (std::uint64_t i = 0; i < data.local_rows * data.columns; ++i) largest = std::max(largest, std::abs(data.values[i]));
  largest = comm.allreduce(largest, engine::ReduceOp::max);
  if (!(largest <= largest_supported_magnitude)) throw_too_large(false, largest);
}

std::string_view to_string(Pruning pruning) {
  switch (pruning) {
    case Pruning::automatic: return "auto";
    case Pruning::hamerly: return "hamerly";
    case Pruning::none: return "none";
  }
  return "?";
}

LloydResult lloyd(const engine::Communicator& comm, const linalg::RowBlockView& data,
                  std::span<const double> initial_centres, const LloydOptions& options, engine::PhaseTimers& timers) {
  check_arguments(data, initial_centres, options);
  const std::uint64_t d = data.columns, k = initial_centres.size() / d, n_local = data.local_rows;
  const auto scales = column_scales(comm, data, initial_centres);
  const bool track_bounds = options.pruning != Pruning::none;

  State state;
  state.labels.assign(n_local, -1);
  state.next_labels.resize(n_local);
  if (track_bounds) {
    state.upper.resize(n_local);
    state.lower.resize(n_local);
    state.row_norms = row_squared_norms(data);
  }
  std::vector<double> centres(initial_centres.begin(), initial_centres.end()), next_centres(k * d);
  const std::uint64_t stride = sums_stride(d);
  // The exchange carries the sums plus two counts: changed labels and Hamerly's full scans.
  std::vector<engine::Int128> sums(k * stride), exchange(k * stride + 2);
  bool sums_follow_labels = false;  // sums == the sums of `labels` (so changes can be moved)

  LloydResult result;
  result.k = k;
  bool strict_convergence = false;
  const double loop_start = engine::wall_seconds();
  while (result.iterations < options.max_iterations) {
    const double start = engine::wall_seconds();
    const CentreSet current(centres, k, d, track_bounds);
    IterationReport report;
    std::uint64_t local_full_scans = 0;
    {
      auto phase = timers.phase("assign");
      const auto facts = assign(comm, data, current, options.pruning, state);
      report.hamerly = facts.hamerly;
      report.failing_bounds = facts.failing_bounds;
      local_full_scans = facts.local_full_scans;
    }
    {
      auto phase = timers.phase("update");
      // One exact allreduce: the sums (whole, or only the moves of changed points) and, as the
      // last two elements, the numbers of changed labels and of full scans.
      std::fill(exchange.begin(), exchange.end(), 0);
      const std::span<engine::Int128> cluster_part(exchange.data(), k * stride);
      std::uint64_t changed = 0;
      if (sums_follow_labels) {
        changed = move_changed_rows(data, state.labels, state.next_labels, scales, cluster_part);
      } else {
        add_rows_to_sums(data, state.next_labels, scales, cluster_part);
        for (std::uint64_t i = 0; i < n_local; ++i) changed += state.labels[i] != state.next_labels[i] ? 1 : 0;
      }
      exchange[k * stride] = changed;
      exchange[k * stride + 1] = local_full_scans;
      comm.allreduce_exact_sum_in_place(exchange);
      for (std::uint64_t i = 0; i < sums.size(); ++i) sums[i] = sums_follow_labels ? sums[i] + exchange[i] : exchange[i];
      report.changed_labels = static_cast<std::uint64_t>(exchange[k * stride]);
      report.full_scans = static_cast<std::uint64_t>(exchange[k * stride + 1]);
      state.labels.swap(state.next_labels);
      sums_follow_labels = true;

      report.reseeded = reseed_empty_clusters(comm, data, current, state.labels, scales, sums);
      if (report.reseeded > 0) sums_follow_labels = false;  // recounted from the labels next time
      centres_from_sums(sums, scales, centres, d, next_centres);
      state.drift = centre_drift(centres, next_centres, k, d);
      centres.swap(next_centres);
    }
    ++result.iterations;
    result.hamerly_iterations += report.hamerly ? 1 : 0;
    result.reseeded_clusters += report.reseeded;
    report.iteration = result.iterations;
    report.largest_shift = state.drift.largest;
    report.seconds = engine::wall_seconds() - start;
    if (options.on_iteration) options.on_iteration(report);
    // scikit-learn's order: unchanged labels first (with exact sums the centres then have not
    // moved, unless a cluster was re-seeded), then the shift.
    if (report.changed_labels == 0) {
      strict_convergence = true;
      break;
    }
    if (state.drift.largest <= options.tolerance) {
      result.converged = true;
      break;
    }
  }
  result.converged = result.converged || strict_convergence;
  const CentreSet final_centres(centres, k, d, track_bounds && !strict_convergence);
  if (!strict_convergence) {
    // The labels came from the centres before the last update: assign once more, as scikit-learn.
    auto phase = timers.phase("assign");
    assign(comm, data, final_centres, options.pruning, state);
    state.labels.swap(state.next_labels);
  }
  result.iteration_seconds = engine::wall_seconds() - loop_start;

  auto phase = timers.phase("inertia");
  std::vector<std::uint64_t> sizes(k, 0);
  for (const std::int32_t label : state.labels) ++sizes[static_cast<std::uint64_t>(label)];
  result.sizes = comm.allreduce(sizes, engine::ReduceOp::sum);
  result.inertia = exact_inertia(comm, data, final_centres, state.labels);
  result.centroids = std::move(centres);
  result.labels = std::move(state.labels);
  return result;
}

}  // namespace omniseg::kmeans
