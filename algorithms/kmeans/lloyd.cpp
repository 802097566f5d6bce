#include "algorithms/kmeans/lloyd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "algorithms/kmeans/assign.hpp"
#include "algorithms/kmeans/yinyang.hpp"
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

/// Throws std::invalid_argument unless the global members of `snapshot` fit the run (the same
/// on every rank, so every rank throws).
void check_snapshot_globals(const LloydSnapshot& snapshot, std::uint64_t k, std::uint64_t d,
                            const LloydOptions& options) {
  for (const auto* centres : {&snapshot.centres, &snapshot.previous_centres}) {
    if (centres->size() != k * d) {
      throw std::invalid_argument(fmt::format("k-means: the snapshot's centres are {} values, not k × d = {} × {}",
                                              centres->size(), k, d));
    }
  }
  if (snapshot.iterations == 0 || snapshot.iterations > options.max_iterations) {
    throw std::invalid_argument(fmt::format("k-means: the snapshot is after iteration {}, resuming needs 1 to "
                                            "max_iterations = {}",
                                            snapshot.iterations, options.max_iterations));
  }
  if (snapshot.centre_groups.empty()) return;
  if (snapshot.centre_groups.size() != k) {
    throw std::invalid_argument(fmt::format("k-means: the snapshot has {} centre group ids, not one per centre "
                                            "(k = {})",
                                            snapshot.centre_groups.size(), k));
  }
  try {
    (void)CentreGroups(snapshot.centre_groups);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(fmt::format("k-means: the snapshot's {}", error.what()));
  }
}

/// Collective. Throws the same std::invalid_argument on every rank unless every rank's per-row
/// members of `snapshot` fit its rows: one rank's mismatch must not leave the others waiting.
void check_snapshot_rows(const engine::Communicator& comm, const linalg::RowBlockView& data,
                         const LloydSnapshot& snapshot, std::uint64_t k) {
  struct RowFit {
    std::uint64_t rows, labels, upper, lower;
    std::uint64_t bad_label_row;  ///< global row of the first label outside [0, k), or none
  };
  constexpr std::uint64_t none = std::numeric_limits<std::uint64_t>::max();
  RowFit local{data.local_rows, snapshot.labels.size(), snapshot.upper_bounds.size(), snapshot.lower_bounds.size(),
               none};
  if (local.labels == local.rows) {
    for (std::uint64_t i = 0; i < local.rows && local.bad_label_row == none; ++i) {
      const std::int32_t label = snapshot.labels[i];
      if (label < 0 || static_cast<std::uint64_t>(label) >= k) local.bad_label_row = data.global_row(i);
    }
  }
  const auto fits = comm.allgather(local);
  for (std::size_t r = 0; r < fits.size(); ++r) {
    const RowFit& fit = fits[r];
    const std::uint64_t bounds = snapshot.bounds_valid ? fit.rows : 0, per_row = lower_bounds_per_row(snapshot);
    if (fit.labels != fit.rows || fit.upper != bounds || fit.lower != bounds * per_row) {
      throw std::invalid_argument(fmt::format(
          "k-means: the snapshot's rows do not fit rank {}: {} rows, {} labels, {} upper and {} lower bounds "
          "(bounds {})",
          r, fit.rows, fit.labels, fit.upper, fit.lower,
          !snapshot.bounds_valid ? "not valid: none"
          : per_row == 1         ? "valid: one per row"
                                 : fmt::format("valid: one upper and {} lower per row", per_row)));
    }
    if (fit.bad_label_row != none) {
      throw std::invalid_argument(
          fmt::format("k-means: the snapshot's label of row {} is not in [0, {})", fit.bad_label_row, k));
    }
  }
}

[[noreturn]] void throw_too_large(std::string_view what, double magnitude) {
  throw InputError(fmt::format("k-means: values up to {:g} in magnitude are supported, the {} reach {:g}",
                               largest_supported_magnitude, what, magnitude));
}

double largest_magnitude(std::span<const double> values) {
  double largest = 0;
  for (const double value : values) largest = std::max(largest, std::abs(value));
  return largest;
}

/// Fixed-point scales of the data's columns (global largest magnitudes: the data alone fix them,
/// so a resumed run gets the same); rejects magnitudes whose squares could overflow, in the data,
/// the initial centres or a snapshot's centres.
engine::FixedPointScales column_scales(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                       std::span<const double> initial_centres, const LloydSnapshot* resume_from) {
  const std::uint64_t d = data.columns;
  std::vector<double> largest(d, 0.0);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    const double* x = data.row(i);
    for (std::uint64_t col = 0; col < d; ++col) largest[col] = std::max(largest[col], std::abs(x[col]));
  }
  comm.allreduce_in_place(largest, engine::ReduceOp::max);
  const double data_largest = *std::max_element(largest.begin(), largest.end());
  const double initial_largest = largest_magnitude(initial_centres);
  const double snapshot_largest =
      resume_from == nullptr ? 0.0
                             : std::max(largest_magnitude(resume_from->centres),
                                        largest_magnitude(resume_from->previous_centres));
  if (!(initial_largest <= largest_supported_magnitude)) throw_too_large("initial centres", initial_largest);
  if (!(snapshot_largest <= largest_supported_magnitude)) throw_too_large("snapshot's centres", snapshot_largest);
  if (!(data_largest <= largest_supported_magnitude)) throw_too_large("data", data_largest);
  return engine::FixedPointScales::for_max_abs(largest);
}

/// The per-iteration state of one rank. What a snapshot shows lives in `saved`, so that
/// on_snapshot hands out a reference and costs no copy.
struct State {
  LloydSnapshot saved;                    ///< labels (-1 before the first iteration), bounds, centres, counters
  std::vector<std::int32_t> next_labels;  ///< the assignment being made
  std::vector<double> row_norms;          ///< ‖x‖² per row, for bounds from GEMM scores
  CentreDrift drift;                      ///< from saved.previous_centres to saved.centres
  std::optional<CentreGroups> groups;     ///< under Yinyang: saved.centre_groups
  GemmWorkspace workspace;
};

struct AssignmentFacts {
  AssignPath path = AssignPath::gemm;
  bool by_bounds = false;                  ///< valid bounds kept the labels they proved
  std::uint64_t failing_bounds = 0;        ///< all ranks (Hamerly: decides the path); this rank (Yinyang)
  std::uint64_t local_full_scans = 0;      ///< this rank
  std::uint64_t local_scanned_groups = 0;  ///< this rank (Yinyang)
};

/// Yinyang's assignment: a GEMM pass that sets the bounds when they are not valid, else a
/// Yinyang step. Not collective (its counts travel with the update's sums).
AssignmentFacts assign_by_yinyang(const linalg::RowBlockView& data, const CentreSet& centres, State& state) {
  AssignmentFacts facts;
  facts.path = AssignPath::yinyang;
  LloydSnapshot& saved = state.saved;
  if (!saved.bounds_valid) {
    // A GEMM pass that also keeps each group's smallest score: the bounds' storage takes the
    // scores, then the bounds made from them.
    const GroupScores group_scores{state.groups->ids(), state.groups->count(), saved.lower_bounds};
    nearest_by_gemm(data, centres, state.next_labels, saved.upper_bounds, {}, state.workspace, &group_scores);
    group_bounds_from_scores(state.row_norms, centres, saved.upper_bounds, saved.lower_bounds,
                             state.groups->count(), saved.upper_bounds, saved.lower_bounds);
    saved.bounds_valid = true;
    facts.path = AssignPath::gemm;
    return facts;
  }
  const GroupedCentres grouped(centres, *state.groups);
  const auto counts = yinyang_relabel(data, centres, grouped, state.drift, group_drift(state.drift, *state.groups),
                                      saved.labels, state.next_labels, saved.upper_bounds, saved.lower_bounds);
  facts.by_bounds = true;
  facts.failing_bounds = counts.failing;
  facts.local_full_scans = counts.rescanned_rows;
  facts.local_scanned_groups = counts.scanned_groups;
  return facts;
}

/// Collective (under Hamerly's rule). Fills state.next_labels with the nearest centre of every
/// local row and leaves the bounds valid for `centres`.
AssignmentFacts assign(const engine::Communicator& comm, const linalg::RowBlockView& data, const CentreSet& centres,
                       Pruning pruning, State& state) {
  if (state.groups) return assign_by_yinyang(data, centres, state);
  AssignmentFacts facts;
  LloydSnapshot& saved = state.saved;
  const bool track_bounds = pruning != Pruning::none;
  if (track_bounds && saved.bounds_valid) {
    const std::uint64_t local_failing =
        widen_bounds(saved.labels, state.drift, centres, saved.upper_bounds, saved.lower_bounds);
    facts.failing_bounds = comm.allreduce(local_failing, engine::ReduceOp::sum);
    const bool hamerly = pruning == Pruning::hamerly ||
                         static_cast<double>(facts.failing_bounds) <=
                             hamerly_max_failing_fraction * static_cast<double>(data.global_rows);
    if (hamerly) {
      facts.path = AssignPath::hamerly;
      facts.by_bounds = true;
      facts.local_full_scans =
          hamerly_relabel(data, centres, saved.labels, state.next_labels, saved.upper_bounds, saved.lower_bounds);
      return facts;
    }
  }
  // The bounds' storage takes the two smallest scores, then the bounds made from them.
  const auto upper = track_bounds ? std::span<double>(saved.upper_bounds) : std::span<double>();
  const auto lower = track_bounds ? std::span<double>(saved.lower_bounds) : std::span<double>();
  nearest_by_gemm(data, centres, state.next_labels, upper, lower, state.workspace);
  if (track_bounds) {
    bounds_from_scores(state.row_norms, centres, upper, lower, upper, lower);
    saved.bounds_valid = true;
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
  if (!(largest <= largest_supported_magnitude)) throw_too_large("data", largest);
}

std::string_view to_string(Pruning pruning) {
  switch (pruning) {
    case Pruning::automatic: return "auto";
    case Pruning::hamerly: return "hamerly";
    case Pruning::yinyang: return "yinyang";
    case Pruning::none: return "none";
  }
  return "?";
}

std::uint64_t lower_bounds_per_row(const LloydSnapshot& snapshot) {
  if (snapshot.centre_groups.empty()) return 1;
  const auto& groups = snapshot.centre_groups;
  return static_cast<std::uint64_t>(*std::max_element(groups.begin(), groups.end())) + 1;
}

bool uses_yinyang(Pruning pruning, std::uint64_t k) {
  return pruning == Pruning::yinyang || (pruning == Pruning::automatic && k >= yinyang_min_k);
}

LloydResult lloyd(const engine::Communicator& comm, const linalg::RowBlockView& data,
                  std::span<const double> initial_centres, const LloydOptions& options, engine::PhaseTimers& timers) {
  check_arguments(data, initial_centres, options);
  const std::uint64_t d = data.columns, k = initial_centres.size() / d, n_local = data.local_rows;
  const LloydSnapshot* const resume_from = options.resume_from;
  if (resume_from != nullptr) {
    check_snapshot_globals(*resume_from, k, d, options);
    check_snapshot_rows(comm, data, *resume_from, k);
  }
  const auto scales = column_scales(comm, data, initial_centres, resume_from);
  const bool track_bounds = options.pruning != Pruning::none, yinyang = uses_yinyang(options.pruning, k);

  State state;
  LloydSnapshot& saved = state.saved;
  if (resume_from != nullptr) {
    saved = *resume_from;
    // The same bits as the interrupted run's drift: the same function of the same centres.
    state.drift = centre_drift(saved.previous_centres, saved.centres, k, d);
  } else {
    saved.labels.assign(n_local, -1);
    saved.centres.assign(initial_centres.begin(), initial_centres.end());
    saved.previous_centres.resize(k * d);
  }
  // Bounds of another kind than this run tracks (or none) start afresh, like iteration 1. The
  // groups are kept from the snapshot (the bounds refer to them), else made from the centres.
  if (!track_bounds || !saved.bounds_valid || yinyang == saved.centre_groups.empty()) {
    saved.bounds_valid = false;
    saved.centre_groups.clear();
  }
  if (yinyang) {
    if (saved.centre_groups.empty()) {
      state.groups.emplace(CentreGroups::cluster(saved.centres, k, d, yinyang_group_count(k, d)));
      saved.centre_groups.assign(state.groups->ids().begin(), state.groups->ids().end());
    } else {
      state.groups.emplace(saved.centre_groups);
    }
  }
  if (!saved.bounds_valid) {
    saved.upper_bounds.assign(track_bounds ? n_local : 0, 0.0);
    saved.lower_bounds.assign(track_bounds ? n_local * (yinyang ? state.groups->count() : 1) : 0, 0.0);
  }
  state.next_labels.resize(n_local);
  if (track_bounds) state.row_norms = row_squared_norms(data);
  const std::uint64_t stride = sums_stride(d);
  // The exchange carries the sums plus four counts: changed labels, points that scanned (Hamerly,
  // Yinyang), and Yinyang's failing bounds and scanned groups.
  constexpr std::uint64_t extra_counts = 4;
  std::vector<engine::Int128> sums(k * stride), exchange(k * stride + extra_counts);
  // sums == the sums of `saved.labels` (so changes can be moved). A resumed run recounts them from
  // the labels in its first iteration: exact, so the same integers as the interrupted run's sums.
  bool sums_follow_labels = false;

  LloydResult result;
  result.k = k;
  bool strict_convergence = false;
  const double loop_start = engine::wall_seconds();
  while (true) {
    // The tests after an iteration (this run's last, or the snapshot's), in scikit-learn's order:
    // unchanged labels first (with exact sums the centres then have not moved, unless a cluster
    // was re-seeded), then the shift.
    if (saved.iterations > 0) {
      if (saved.changed_labels == 0) {
        strict_convergence = true;
        break;
      }
      if (state.drift.largest <= options.tolerance) {
        result.converged = true;
        break;
      }
    }
    if (saved.iterations >= options.max_iterations) break;

    const double start = engine::wall_seconds();
    const CentreSet current(saved.centres, k, d, track_bounds);
    IterationReport report;
    AssignmentFacts facts;
    {
      auto phase = timers.phase("assign");
      facts = assign(comm, data, current, options.pruning, state);
      report.path = facts.path;
      report.failing_bounds = facts.failing_bounds;
    }
    {
      auto phase = timers.phase("update");
      // One exact allreduce: the sums (whole, or only the moves of changed points) and, as the
      // last elements, the counts.
      std::fill(exchange.begin(), exchange.end(), 0);
      const std::span<engine::Int128> cluster_part(exchange.data(), k * stride);
      std::uint64_t changed = 0;
      if (sums_follow_labels) {
        changed = move_changed_rows(data, saved.labels, state.next_labels, scales, cluster_part);
      } else {
        add_rows_to_sums(data, state.next_labels, scales, cluster_part);
        for (std::uint64_t i = 0; i < n_local; ++i) changed += saved.labels[i] != state.next_labels[i] ? 1 : 0;
      }
      exchange[k * stride] = changed;
      exchange[k * stride + 1] = facts.local_full_scans;
      exchange[k * stride + 2] = facts.path == AssignPath::yinyang ? facts.failing_bounds : 0;
      exchange[k * stride + 3] = facts.local_scanned_groups;
      comm.allreduce_exact_sum_in_place(exchange);
      for (std::uint64_t i = 0; i < sums.size(); ++i) sums[i] = sums_follow_labels ? sums[i] + exchange[i] : exchange[i];
      report.changed_labels = static_cast<std::uint64_t>(exchange[k * stride]);
      report.full_scans = static_cast<std::uint64_t>(exchange[k * stride + 1]);
      if (facts.path == AssignPath::yinyang) {
        report.failing_bounds = static_cast<std::uint64_t>(exchange[k * stride + 2]);
      }
      report.scanned_groups = static_cast<std::uint64_t>(exchange[k * stride + 3]);
      saved.labels.swap(state.next_labels);
      sums_follow_labels = true;

      report.reseeded = reseed_empty_clusters(comm, data, current, saved.labels, scales, sums);
      if (report.reseeded > 0) sums_follow_labels = false;  // recounted from the labels next time
      // The new centres go to the buffer of the ones before the current, then the two swap roles.
      centres_from_sums(sums, scales, saved.centres, d, saved.previous_centres);
      saved.centres.swap(saved.previous_centres);
      state.drift = centre_drift(saved.previous_centres, saved.centres, k, d);
    }
    ++saved.iterations;
    saved.hamerly_iterations += facts.by_bounds && facts.path == AssignPath::hamerly ? 1 : 0;
    saved.yinyang_iterations += facts.by_bounds && facts.path == AssignPath::yinyang ? 1 : 0;
    saved.reseeded_clusters += report.reseeded;
    saved.changed_labels = report.changed_labels;
    report.iteration = saved.iterations;
    report.largest_shift = state.drift.largest;
    report.seconds = engine::wall_seconds() - start;
    if (options.on_iteration) options.on_iteration(report);
    if (options.on_snapshot) options.on_snapshot(saved);
  }
  result.converged = result.converged || strict_convergence;
  const CentreSet final_centres(saved.centres, k, d, track_bounds && !strict_convergence);
  if (!strict_convergence) {
    // The labels came from the centres before the last update: assign once more, as scikit-learn.
    auto phase = timers.phase("assign");
    assign(comm, data, final_centres, options.pruning, state);
    saved.labels.swap(state.next_labels);
  }
  result.iteration_seconds = engine::wall_seconds() - loop_start;

  auto phase = timers.phase("inertia");
  std::vector<std::uint64_t> sizes(k, 0);
  for (const std::int32_t label : saved.labels) ++sizes[static_cast<std::uint64_t>(label)];
  result.sizes = comm.allreduce(sizes, engine::ReduceOp::sum);
  result.inertia = exact_inertia(comm, data, final_centres, saved.labels);
  result.iterations = saved.iterations;
  result.hamerly_iterations = saved.hamerly_iterations;
  result.yinyang_iterations = saved.yinyang_iterations;
  result.reseeded_clusters = saved.reseeded_clusters;
  result.centroids = std::move(saved.centres);
  result.labels = std::move(saved.labels);
  return result;
}

}  // namespace omniseg::kmeans
