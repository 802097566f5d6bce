// algorithms/kmeans/yinyang.hpp — Yinyang K-means (Ding et al., ICML 2015): one upper bound per
// point and one lower bound per GROUP of centres, so that when many centres move a point looks
// again only at the groups that came near it. Pure and single-rank, like assign.hpp.
//
// Owns: grouping the centres (a few Lloyd passes over the centres themselves, fixed for a run, so
// the bounds keep their meaning), the distances from a point to one group's centres (the fixed
// column-order sum of squared_distance, several vector blocks of centres at once) and the Yinyang
// step. The first bounds come from a GEMM pass (assign.hpp: nearest_by_gemm with GroupScores,
// group_bounds_from_scores). Bounds are `upper`, one per row, and `lower`, one per row and group
// (row after row): lower[i·G + g] <= the distance to every centre of group g other than the
// label. Bounds carry bound_slack (assign.hpp) exactly as Hamerly's do, so rounding never lets a
// bound claim more than the arithmetic proved; exact ties are never proved and go to a scan, which
// takes the lowest index. Does not own: when this runs and
// what crosses ranks (algorithms/kmeans/lloyd.hpp).
//
// Every value here depends only on its row, the centres and the groups, never on the other rows,
// so a row's label and bounds are the same bits on whichever rank holds it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "algorithms/kmeans/assign.hpp"
#include "algorithms/linalg/row_block.hpp"

namespace omniseg::kmeans {

/// Groups for k centres of d columns: one per 16 centres, at most 64 and at most max(d, 4), so the
/// per-point lower bounds never take much more memory than the point itself (at most 512 bytes a
/// row). Ding et al. take k/10; on 1,000,000 × 32 blobs with k = 256, groups of 16 iterate 8 %
/// faster than groups of 8 (fewer bounds to move, about as many distances).
[[nodiscard]] std::uint64_t yinyang_group_count(std::uint64_t k, std::uint64_t d);

/// A partition of the k centres into groups. The bounds of a run refer to it, so it is fixed for
/// the run (and kept in snapshots).
class CentreGroups {
 public:
  /// Groups `k` × `d` centres by five Lloyd passes over the centres themselves, started from the
  /// centres at indices ⌊g·k/count⌋; groups left empty are dropped (so count() may be smaller).
  /// Deterministic: the same centres give the same groups on every rank.
  [[nodiscard]] static CentreGroups cluster(std::span<const double> centres, std::uint64_t k, std::uint64_t d,
                                            std::uint64_t count);
  /// From each centre's group id (a snapshot's). Throws std::invalid_argument unless the ids are
  /// 0..G−1 with every group non-empty.
  explicit CentreGroups(std::vector<std::int32_t> group_of);

  [[nodiscard]] std::uint64_t count() const { return member_offsets_.size() - 1; }
  [[nodiscard]] std::uint64_t k() const { return group_of_.size(); }
  [[nodiscard]] std::uint64_t group_of(std::uint64_t centre) const {
    return static_cast<std::uint64_t>(group_of_[centre]);
  }
  /// The group id of every centre, in centre order (what a snapshot keeps).
  [[nodiscard]] std::span<const std::int32_t> ids() const { return group_of_; }
  /// Group g's centres in ascending order.
  [[nodiscard]] std::span<const std::uint32_t> members(std::uint64_t g) const {
    return std::span<const std::uint32_t>(members_).subspan(member_offsets_[g],
                                                            member_offsets_[g + 1] - member_offsets_[g]);
  }

 private:
  std::vector<std::int32_t> group_of_;
  std::vector<std::uint64_t> member_offsets_;  ///< count() + 1 entries
  std::vector<std::uint32_t> members_;
};

/// The centres of every group laid out for squared_distances_to_group, rebuilt once per iteration
/// (identically on every rank): group g's members in ascending order in `slots(g)` consecutive
/// slots (its member count rounded up to a multiple of 4), stored in blocks of 4 slots, each block
/// column after column (d × 4), the padding zero.
class GroupedCentres {
 public:
  static constexpr std::uint64_t block_lanes = 4;

  GroupedCentres(const CentreSet& centres, const CentreGroups& groups);

  [[nodiscard]] const CentreGroups& groups() const { return groups_; }
  [[nodiscard]] std::uint64_t d() const { return d_; }
  /// Slots of all groups together (the size of a row of distances).
  [[nodiscard]] std::uint64_t total_slots() const { return slot_offsets_.back(); }
  [[nodiscard]] std::uint64_t first_slot(std::uint64_t g) const { return slot_offsets_[g]; }
  [[nodiscard]] std::uint64_t slots(std::uint64_t g) const { return slot_offsets_[g + 1] - slot_offsets_[g]; }
  /// The blocks of group g: slots(g) / 4 blocks of d × 4 values.
  [[nodiscard]] const double* blocks(std::uint64_t g) const { return values_.data() + slot_offsets_[g] * d_; }

 private:
  const CentreGroups& groups_;
  std::uint64_t d_;
  std::vector<std::uint64_t> slot_offsets_;
  std::vector<double> values_;
};

/// Squared distances from `x` to group g's centres, into out[0, slots(g)) in member order (the
/// padding slots get garbage); each the same bits as squared_distance(x, c_j).
void squared_distances_to_group(const double* x, const GroupedCentres& grouped, std::uint64_t g, double* out);

/// The largest drift of any centre of each group: how far each group's lower bounds must drop.
[[nodiscard]] std::vector<double> group_drift(const CentreDrift& drift, const CentreGroups& groups);

/// What one Yinyang step did on this rank.
struct YinyangCounts {
  std::uint64_t failing = 0;         ///< rows whose moved bounds did not prove their label
  std::uint64_t rescanned_rows = 0;  ///< of those, rows that the tightened upper bound did not settle
  std::uint64_t scanned_groups = 0;  ///< groups those rows computed distances to, in all
};

/// One Yinyang step, for bounds valid for the centres before `drift` and `grouped`'s centres
/// (`centres`, built with half gaps) after it. Per row: the upper bound grows by its centre's drift
/// and each group's lower bound drops by the group's largest drift; the label stays where the
/// upper bound is below every group's bound (or half the gap to the label's nearest other
/// centre); otherwise one distance tightens the upper bound and, if that does not settle it,
/// every group whose bound it does not clear is scanned, the label becomes the nearest centre
/// seen (lowest index on ties) and the scanned groups' bounds exact. Writes every row's label to
/// `next_labels`; leaves the bounds valid for the new centres.
YinyangCounts yinyang_relabel(const linalg::RowBlockView& data, const CentreSet& centres,
                              const GroupedCentres& grouped, const CentreDrift& drift,
                              std::span<const double> group_drift, std::span<const std::int32_t> labels,
                              std::span<std::int32_t> next_labels, std::span<double> upper, std::span<double> lower);

}  // namespace omniseg::kmeans
