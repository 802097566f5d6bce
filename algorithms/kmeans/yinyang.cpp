#include "algorithms/kmeans/yinyang.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace omniseg::kmeans {
namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr std::uint64_t lanes = GroupedCentres::block_lanes;
/// Rows whose bounds are moved before the failing ones are tightened and scanned: their data and
/// bounds are still in cache when they are needed again.
constexpr std::uint64_t chunk_rows = 256;
/// Passes of Lloyd over the centres when grouping them (Ding et al. use five).
constexpr int grouping_passes = 5;

/// Sums of `Blocks` blocks of 4 centres at once: 4·Blocks independent chains, each a centre's
/// columns in order (squared_distance's sum), so the CPU overlaps them and the bits are the same.
template <std::uint64_t Blocks>
[[gnu::always_inline]] inline void distances_of_blocks(const double* x, const double* blocks, std::uint64_t d,
                                                       double* out) {
  double sums[Blocks][lanes] = {};
  for (std::uint64_t col = 0; col < d; ++col) {
    const double value = x[col];
#pragma GCC unroll 4
    for (std::uint64_t b = 0; b < Blocks; ++b) {
      const double* row = blocks + (b * d + col) * lanes;
#pragma GCC unroll 4
      for (std::uint64_t lane = 0; lane < lanes; ++lane) {
        const double diff = value - row[lane];
        sums[b][lane] += diff * diff;
      }
    }
  }
  for (std::uint64_t b = 0; b < Blocks; ++b) {
    for (std::uint64_t lane = 0; lane < lanes; ++lane) out[b * lanes + lane] = sums[b][lane];
  }
}

/// The smallest of `slots` values (a multiple of 4), in 4 lanes: min is exact, so any width gives
/// the same value.
double smallest_of(const double* values, std::uint64_t slots) {
  double smallest[lanes] = {infinity, infinity, infinity, infinity};
  for (std::uint64_t s = 0; s < slots; s += lanes) {
#pragma GCC unroll 4
    for (std::uint64_t lane = 0; lane < lanes; ++lane) smallest[lane] = std::min(smallest[lane], values[s + lane]);
  }
  return std::min(std::min(smallest[0], smallest[1]), std::min(smallest[2], smallest[3]));
}

/// Lowers one row's group bounds: bound·keep − drop, at least 0. Returns the smallest new bound.
/// In 4 lanes (a vector under AVX2); min and max are exact, so the result is the same in any width.
#if defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
double lower_group_bounds(double* __restrict bounds, const double* __restrict drops, std::uint64_t groups,
                          double keep) {
  double nearest[lanes] = {infinity, infinity, infinity, infinity};
  std::uint64_t g = 0;
  for (; g + lanes <= groups; g += lanes) {
#pragma GCC unroll 4
    for (std::uint64_t lane = 0; lane < lanes; ++lane) {
      const double bound = std::max(0.0, bounds[g + lane] * keep - drops[g + lane]);
      bounds[g + lane] = bound;
      nearest[lane] = std::min(nearest[lane], bound);
    }
  }
  for (; g < groups; ++g) {
    bounds[g] = std::max(0.0, bounds[g] * keep - drops[g]);
    nearest[0] = std::min(nearest[0], bounds[g]);
  }
  return std::min(std::min(nearest[0], nearest[1]), std::min(nearest[2], nearest[3]));
}

/// The nearest centre among those whose distances are known, lowest index on ties (the groups are
/// visited in any order, so the index decides explicitly).
struct Nearest {
  std::int64_t label = -1;
  double squared = infinity;

  void offer(std::int64_t centre, double value) {
    if (value < squared || (value == squared && centre < label)) {
      label = centre;
      squared = value;
    }
  }
};

/// Rescans one row: every group whose lower bound does not clear `upper_bound`. `own` is the row's
/// current label and its squared distance. Sets the row's label, its upper bound and the scanned
/// groups' lower bounds; returns the number of groups scanned.
class RowScanner {
 public:
  RowScanner(const GroupedCentres& grouped, double slack)
      : grouped_(grouped), groups_(grouped.groups()), slack_(slack), distances_(grouped.total_slots()) {
    scanned_.reserve(groups_.count());
  }

  std::uint64_t scan(const double* x, Nearest own, double upper_bound, double* lower, std::int32_t& label,
                     double& upper) {
    scanned_.clear();
    Nearest nearest = own;
    for (std::uint64_t g = 0; g < groups_.count(); ++g) {
      if (upper_bound < lower[g]) continue;  // every centre of g is provably farther than the label's
      double* distances = distances_.data() + grouped_.first_slot(g);
      squared_distances_to_group(x, grouped_, g, distances);
      const auto members = groups_.members(g);
      std::fill(distances + members.size(), distances + grouped_.slots(g), infinity);  // the padding
      // Members ascend, so the group's first slot holding its minimum is its lowest index there.
      const double smallest = smallest_of(distances, grouped_.slots(g));
      const auto first =
          static_cast<std::size_t>(std::find(distances, distances + members.size(), smallest) - distances);
      nearest.offer(members[first], smallest);
      scanned_.push_back({g, smallest});
    }
    const std::uint64_t label_group = groups_.group_of(static_cast<std::uint64_t>(nearest.label));
    for (const auto& [g, smallest] : scanned_) {
      double closest_other = smallest;
      if (g == label_group) {  // only the label's group has to leave one centre out
        const auto members = groups_.members(g);
        const double* distances = distances_.data() + grouped_.first_slot(g);
        closest_other = infinity;
        for (std::size_t m = 0; m < members.size(); ++m) {
          if (members[m] != nearest.label) closest_other = std::min(closest_other, distances[m]);
        }
      }
      lower[g] = lower_bound_of(closest_other);
    }
    if (own.label != nearest.label) {
      // The old label's group may not have been scanned: its bound must now cover the old label.
      double& bound = lower[groups_.group_of(static_cast<std::uint64_t>(own.label))];
      bound = std::min(bound, lower_bound_of(own.squared));
    }
    label = static_cast<std::int32_t>(nearest.label);
    upper = std::sqrt(nearest.squared) * (1 + slack_);
    return scanned_.size();
  }

 private:
  [[nodiscard]] double lower_bound_of(double squared) const {
    return std::isinf(squared) ? infinity : std::sqrt(squared) * (1 - slack_);
  }

  const GroupedCentres& grouped_;
  const CentreGroups& groups_;
  double slack_;
  std::vector<double> distances_;
  struct ScannedGroup {
    std::uint64_t group;
    double smallest;  ///< its smallest squared distance
  };
  std::vector<ScannedGroup> scanned_;
};

}  // namespace

std::uint64_t yinyang_group_count(std::uint64_t k, std::uint64_t d) {
  return std::clamp<std::uint64_t>((k + 15) / 16, 1, std::min<std::uint64_t>(64, std::max<std::uint64_t>(d, 4)));
}

CentreGroups CentreGroups::cluster(std::span<const double> centres, std::uint64_t k, std::uint64_t d,
                                   std::uint64_t count) {
  if (k == 0 || d == 0 || centres.size() != k * d) {
    throw std::invalid_argument("CentreGroups::cluster: need k >= 1 centres of d >= 1 columns, k × d values");
  }
  count = std::clamp<std::uint64_t>(count, 1, k);
  std::vector<double> means(count * d);
  for (std::uint64_t g = 0; g < count; ++g) {
    const std::uint64_t first = g * k / count;
    std::copy_n(centres.begin() + static_cast<std::ptrdiff_t>(first * d), d,
                means.begin() + static_cast<std::ptrdiff_t>(g * d));
  }
  std::vector<std::int32_t> group_of(k, 0);
  std::vector<double> sums(count * d);
  std::vector<std::uint64_t> sizes(count);
  for (int pass = 0; pass < grouping_passes; ++pass) {
    for (std::uint64_t j = 0; j < k; ++j) {
      double best = infinity;
      for (std::uint64_t g = 0; g < count; ++g) {
        const double distance = squared_distance(centres.data() + j * d, means.data() + g * d, d);
        if (distance < best) {
          best = distance;
          group_of[j] = static_cast<std::int32_t>(g);
        }
      }
    }
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(sizes.begin(), sizes.end(), 0);
    for (std::uint64_t j = 0; j < k; ++j) {
      const auto g = static_cast<std::uint64_t>(group_of[j]);
      for (std::uint64_t col = 0; col < d; ++col) sums[g * d + col] += centres[j * d + col];
      ++sizes[g];
    }
    for (std::uint64_t g = 0; g < count; ++g) {
      if (sizes[g] == 0) continue;  // keeps its mean; dropped below if still empty
      for (std::uint64_t col = 0; col < d; ++col) {
        means[g * d + col] = sums[g * d + col] / static_cast<double>(sizes[g]);
      }
    }
  }
  // Renumber the non-empty groups 0, 1, ... in their order.
  std::vector<std::int32_t> renumbered(count, -1);
  std::int32_t next = 0;
  for (std::uint64_t g = 0; g < count; ++g) {
    if (sizes[g] > 0) renumbered[g] = next++;
  }
  for (std::int32_t& g : group_of) g = renumbered[static_cast<std::uint64_t>(g)];
  return CentreGroups(std::move(group_of));
}

CentreGroups::CentreGroups(std::vector<std::int32_t> group_of) : group_of_(std::move(group_of)) {
  if (group_of_.empty()) throw std::invalid_argument("centre groups: no centres");
  const std::int32_t largest = *std::max_element(group_of_.begin(), group_of_.end());
  const std::int32_t smallest = *std::min_element(group_of_.begin(), group_of_.end());
  if (smallest < 0) throw std::invalid_argument("centre groups: a negative group id");
  const auto count = static_cast<std::uint64_t>(largest) + 1;
  member_offsets_.assign(count + 1, 0);
  for (const std::int32_t g : group_of_) ++member_offsets_[static_cast<std::uint64_t>(g) + 1];
  for (std::uint64_t g = 0; g < count; ++g) {
    if (member_offsets_[g + 1] == 0) throw std::invalid_argument("centre groups: a group id without a centre");
    member_offsets_[g + 1] += member_offsets_[g];
  }
  members_.resize(group_of_.size());
  std::vector<std::uint64_t> filled(member_offsets_.begin(), member_offsets_.end() - 1);
  for (std::uint64_t j = 0; j < group_of_.size(); ++j) {
    members_[filled[static_cast<std::uint64_t>(group_of_[j])]++] = static_cast<std::uint32_t>(j);
  }
}

GroupedCentres::GroupedCentres(const CentreSet& centres, const CentreGroups& groups)
    : groups_(groups), d_(centres.d()) {
  if (groups.k() != centres.k()) throw std::invalid_argument("GroupedCentres: the groups are of another k");
  slot_offsets_.assign(groups.count() + 1, 0);
  for (std::uint64_t g = 0; g < groups.count(); ++g) {
    slot_offsets_[g + 1] = slot_offsets_[g] + (groups.members(g).size() + lanes - 1) / lanes * lanes;
  }
  values_.assign(slot_offsets_.back() * d_, 0.0);
  for (std::uint64_t g = 0; g < groups.count(); ++g) {
    const auto members = groups.members(g);
    for (std::uint64_t m = 0; m < members.size(); ++m) {
      const std::uint64_t slot = slot_offsets_[g] + m;
      double* block = values_.data() + (slot / lanes) * d_ * lanes;
      const double* centre = centres.centre(members[m]);
      for (std::uint64_t col = 0; col < d_; ++col) block[col * lanes + slot % lanes] = centre[col];
    }
  }
}

// Also compiled for AVX2 (chosen at load time): a block's 4 lanes are then one vector, with the
// same operations (no FMA), so the same bits.
#if defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
void squared_distances_to_group(const double* x, const GroupedCentres& grouped, std::uint64_t g, double* out) {
  const std::uint64_t d = grouped.d(), blocks = grouped.slots(g) / lanes, block_values = d * lanes;
  const double* values = grouped.blocks(g);
  std::uint64_t b = 0;
  for (; b + 4 <= blocks; b += 4) distances_of_blocks<4>(x, values + b * block_values, d, out + b * lanes);
  switch (blocks - b) {
    case 3: distances_of_blocks<3>(x, values + b * block_values, d, out + b * lanes); break;
    case 2: distances_of_blocks<2>(x, values + b * block_values, d, out + b * lanes); break;
    case 1: distances_of_blocks<1>(x, values + b * block_values, d, out + b * lanes); break;
    default: break;
  }
}

std::vector<double> group_drift(const CentreDrift& drift, const CentreGroups& groups) {
  std::vector<double> largest(groups.count(), 0.0);
  for (std::uint64_t j = 0; j < groups.k(); ++j) {
    double& group = largest[groups.group_of(j)];
    group = std::max(group, drift.drift[j]);
  }
  return largest;
}

YinyangCounts yinyang_relabel(const linalg::RowBlockView& data, const CentreSet& centres,
                              const GroupedCentres& grouped, const CentreDrift& drift,
                              std::span<const double> group_drift, std::span<const std::int32_t> labels,
                              std::span<std::int32_t> next_labels, std::span<double> upper, std::span<double> lower) {
  const std::uint64_t groups = grouped.groups().count();
  const double slack = bound_slack(data.columns);
  // Each group's drift enlarged by the slack once, not once per row.
  std::vector<double> drop(groups);
  for (std::uint64_t g = 0; g < groups; ++g) drop[g] = group_drift[g] * (1 + slack);
  RowScanner scanner(grouped, slack);
  YinyangCounts counts;
  std::vector<std::uint64_t> failing;
  std::vector<double> proofs;
  failing.reserve(chunk_rows);
  proofs.reserve(chunk_rows);
  for (std::uint64_t chunk = 0; chunk < data.local_rows; chunk += chunk_rows) {
    const std::uint64_t chunk_end = std::min(data.local_rows, chunk + chunk_rows);
    // 1. Move the bounds by the drift; keep the label where they still prove it.
    failing.clear();
    proofs.clear();
    for (std::uint64_t i = chunk; i < chunk_end; ++i) {
      const auto label = static_cast<std::uint64_t>(labels[i]);
      next_labels[i] = labels[i];
      const double own = drift.drift[label];
      if (own != 0) upper[i] = (upper[i] + own) * (1 + slack);
      // lb·(1 − slack) − drop stays below the true lb − drift whatever the rounding, and an
      // infinite bound stays infinite (no ∞ − ∞).
      const double nearest_group = lower_group_bounds(lower.data() + i * groups, drop.data(), groups, 1 - slack);
      const double proof = std::max(nearest_group, centres.half_gap(label));
      if (upper[i] < proof) continue;
      failing.push_back(i);
      proofs.push_back(proof);
      // Its row is read next (tightening): start loading it now.
      const auto* bytes = reinterpret_cast<const char*>(data.row(i));
      for (std::uint64_t line = 0; line < data.columns * sizeof(double); line += 64) __builtin_prefetch(bytes + line);
    }
    counts.failing += failing.size();
    // 2. Tighten their upper bounds with one distance each, distance_pairs rows at once; 3. scan
    // the groups of the rows still unproven.
    for (std::size_t first = 0; first < failing.size(); first += distance_pairs) {
      const std::size_t batch = std::min(distance_pairs, failing.size() - first);
      std::array<const double*, distance_pairs> x{}, c{};
      for (std::size_t r = 0; r < distance_pairs; ++r) {
        const std::uint64_t row = failing[first + (r < batch ? r : 0)];  // spare lanes repeat the first
        x[r] = data.row(row);
        c[r] = centres.centre(static_cast<std::uint64_t>(labels[row]));
      }
      const auto squared = squared_distances_of_pairs(x, c, data.columns);
      for (std::size_t r = 0; r < batch; ++r) {
        const std::uint64_t row = failing[first + r];
        upper[row] = std::sqrt(squared[r]) * (1 + slack);
        if (upper[row] < proofs[first + r]) continue;
        ++counts.rescanned_rows;
        counts.scanned_groups += scanner.scan(x[r], Nearest{labels[row], squared[r]}, upper[row],
                                              lower.data() + row * groups, next_labels[row], upper[row]);
      }
    }
  }
  return counts;
}

}  // namespace omniseg::kmeans
