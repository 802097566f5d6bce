#include "algorithms/kmeans/init.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>

#include "engine/exact_sum.hpp"
#include "engine/random.hpp"

namespace omniseg::kmeans {
namespace {

using engine::Int128;
using engine::UInt128;

// Random streams, one per purpose ("kminit" and a number), so no two purposes share draws.
constexpr std::uint64_t kFirstCentreStream = 0x6b6d696e69740001;  // the uniform first centre (both methods)
constexpr std::uint64_t kTrialStream = 0x6b6d696e69740002;        // k-means++ candidate targets, per step
constexpr std::uint64_t kOversampleStream = 0x6b6d696e69740003;   // k-means|| picks, per global row and round
constexpr std::uint64_t kReductionStream = 0x6b6d696e69740004;    // k-means|| weighted reduction, per step

// New k-means|| candidates per block of the update: bounds the gap table to candidates × 256 doubles.
constexpr std::uint64_t kGapBlock = 256;

/// An exact partial sum in transit: MPI has no 128-bit integer, so it travels as bytes.
struct ExactSum {
  Int128 value = 0;
};

/// Where one rank's rows sit, as every rank learns it from one allgather.
struct RankRows {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  std::uint64_t global_rows = 0;
  std::uint64_t columns = 0;
  bool shape_ok = false;  // values.size() == count × columns
};

/// A row named by its owner; `local_row` is meaningful on the owner only (the others need not know).
struct RowRef {
  int owner = 0;
  std::uint64_t local_row = 0;
};

/// Every rank's block of rows. Checking the blocks here, on gathered data, makes a malformed split
/// an identical error on every rank instead of a hang in a later collective.
class RowLayout {
 public:
  RowLayout(const engine::Communicator& comm, const linalg::RowBlockView& data)
      : blocks_(comm.allgather(RankRows{.first = data.first_global_row,
                                        .count = data.local_rows,
                                        .global_rows = data.global_rows,
                                        .columns = data.columns,
                                        .shape_ok = data.values.size() == data.local_rows * data.columns})) {
    std::uint64_t next = 0;
    for (const RankRows& block : blocks_) {
      if (!block.shape_ok || block.columns != data.columns || block.global_rows != data.global_rows) {
        throw std::invalid_argument("initial_centres: the ranks disagree on the matrix shape");
      }
      if (block.count > 0 && block.first != next) {
        throw std::invalid_argument("initial_centres: the ranks' row blocks are not consecutive in rank order");
      }
      next += block.count;
    }
    if (next != data.global_rows) {
      throw std::invalid_argument("initial_centres: the ranks hold " + std::to_string(next) + " rows, not " +
                                  std::to_string(data.global_rows));
    }
  }

  /// The owner of global row `row` (< global rows) and its index there.
  [[nodiscard]] RowRef locate(std::uint64_t row) const {
    for (std::size_t r = 0; r < blocks_.size(); ++r) {
      const RankRows& block = blocks_[r];
      if (row >= block.first && row - block.first < block.count) {
        return {.owner = static_cast<int>(r), .local_row = row - block.first};
      }
    }
    throw std::logic_error("initial_centres: row " + std::to_string(row) + " has no owner");
  }

 private:
  std::vector<RankRows> blocks_;
};

/// The rows `refs` name, in the order of `refs`, on every rank (one allgatherv).
std::vector<double> fetch_rows(const engine::Communicator& comm, const linalg::RowBlockView& data,
                               std::span<const RowRef> refs) {
  const std::size_t d = data.columns;
  std::vector<double> mine;
  for (const RowRef& ref : refs) {
    if (ref.owner == comm.rank()) mine.insert(mine.end(), data.row(ref.local_row), data.row(ref.local_row) + d);
  }
  const auto gathered = comm.allgatherv(mine);
  // Blocks arrive in rank order, each in the order of `refs`: one cursor per rank walks them.
  std::vector<std::uint64_t> cursor(gathered.counts.size(), 0);
  std::exclusive_scan(gathered.counts.begin(), gathered.counts.end(), cursor.begin(), std::uint64_t{0});
  std::vector<double> rows(refs.size() * d);
  for (std::size_t t = 0; t < refs.size(); ++t) {
    const auto at = cursor[static_cast<std::size_t>(refs[t].owner)];
    std::copy_n(gathered.data.begin() + static_cast<std::ptrdiff_t>(at), d, rows.begin() + static_cast<std::ptrdiff_t>(t * d));
    cursor[static_cast<std::size_t>(refs[t].owner)] += d;
  }
  return rows;
}

/// ‖a − b‖² in a fixed order: four interleaved partial sums over the columns, then
/// (s0 + s1) + (s2 + s3). The one routine behind every distance here, so a pair gets the same bits
/// on any rank; four independent chains let the CPU (and the vectoriser) overlap the additions.
double squared_distance(const double* a, const double* b, std::size_t d) {
  double partial[4] = {0, 0, 0, 0};
  std::size_t j = 0;
  for (; j + 4 <= d; j += 4) {
    for (std::size_t lane = 0; lane < 4; ++lane) {
      const double difference = a[j + lane] - b[j + lane];
      partial[lane] += difference * difference;
    }
  }
  for (std::size_t lane = 0; j < d; ++j, ++lane) {
    const double difference = a[j] - b[j];
    partial[lane] += difference * difference;
  }
  return (partial[0] + partial[1]) + (partial[2] + partial[3]);
}

/// Triangle-inequality pruning: a candidate c cannot bring a row x closer than its nearest centre a
/// (at distance D) when ‖c − a‖ >= 2D, since then ‖x − c‖ >= ‖c − a‖ − D >= D. Tested on squares,
/// ‖c − a‖² > 4D²·slack, with a slack far above the rounding of either side, so a skipped distance
/// is one that could not have won. Whether a pair is skipped depends only on the row and the
/// centres, never on the rank, so pruning keeps results independent of the split.
constexpr double kPruneSlack = 1 + 1e-9;

/// Squared distances between every centre of `from` and every centre of `to`: row f holds all of
/// `to` in order.
std::vector<double> squared_gaps(std::span<const double> from, std::span<const double> to, std::size_t d) {
  const std::size_t from_count = from.size() / d, to_count = to.size() / d;
  std::vector<double> gaps(from_count * to_count);
  for (std::size_t f = 0; f < from_count; ++f) {
    for (std::size_t t = 0; t < to_count; ++t) {
      gaps[f * to_count + t] = squared_distance(&from[f * d], &to[t * d], d);
    }
  }
  return gaps;
}

/// This rank's rows' squared distances to their nearest chosen centre, and the fixed-point scale
/// that makes sums of them exact. The scale comes from the largest distance to the first centre;
/// distances only shrink afterwards, so it stays valid for the whole run.
struct NearestDistances {
  std::vector<double> squared;
  engine::FixedPointScales scale;

  /// The sampling weight of a squared distance: its fixed-point image.
  [[nodiscard]] std::int64_t weight(double squared_distance) const { return scale.to_fixed(0, squared_distance); }
  [[nodiscard]] Int128 local_total() const {
    Int128 total = 0;
    for (const double value : squared) total += weight(value);
    return total;
  }
};

/// Squared distances of this rank's rows to one centre, and the scale from their global maximum.
NearestDistances distances_to_first(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                    std::span<const double> centre) {
  NearestDistances nearest;
  nearest.squared.resize(data.local_rows);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    nearest.squared[i] = squared_distance(data.row(i), centre.data(), data.columns);
  }
  const double local_max = nearest.squared.empty() ? 0.0 : *std::max_element(nearest.squared.begin(), nearest.squared.end());
  const double global_max = comm.allreduce(local_max, engine::ReduceOp::max);
  if (!std::isfinite(global_max)) {
    throw std::invalid_argument("initial_centres: squared distances overflow a double (values too large)");
  }
  nearest.scale = engine::FixedPointScales::for_max_abs(std::span<const double>(&global_max, 1));
  return nearest;
}

/// floor(total · u / 2^53) for the 53-bit integer u of `random_bits`: a target in [0, total), exact.
Int128 scaled_target(Int128 total, std::uint64_t random_bits) {
  const UInt128 u = random_bits >> 11;
  const auto whole = static_cast<UInt128>(total);
  const UInt128 high = whole >> 64, low = whole & ~std::uint64_t{0};
  // total < 2^(64 + kValueBits) (at most 2^64 rows, each image below 2^kValueBits <= 2^62), so
  // high < 2^62, and neither product nor the shift overflows 128 bits.
  return static_cast<Int128>(((high * u) << 11) + ((low * u) >> 53));
}

/// For each target, the global row whose interval [prefix, prefix + weight) holds it, in the
/// order of global rows (ranks in rank order, rows in order within a rank). `rank_totals` are every
/// rank's exact weight sums: they name each target's owner; the owner finds the rows of all its
/// targets in one scan, the other ranks only learn the owner.
std::vector<RowRef> weighted_rows(const engine::Communicator& comm, const NearestDistances& nearest,
                                  std::span<const ExactSum> rank_totals, std::span<const Int128> targets) {
  std::vector<RowRef> refs(targets.size());
  Int128 before_me = 0;
  std::vector<std::size_t> mine;  // indices of the targets this rank owns
  for (std::size_t t = 0; t < targets.size(); ++t) {
    Int128 before = 0;
    std::size_t owner = 0;
    while (owner + 1 < rank_totals.size() && before + rank_totals[owner].value <= targets[t]) {
      before += rank_totals[owner].value;
      ++owner;
    }
    refs[t].owner = static_cast<int>(owner);
    if (refs[t].owner == comm.rank()) {
      mine.push_back(t);
      before_me = before;
    }
  }
  std::sort(mine.begin(), mine.end(), [&](std::size_t a, std::size_t b) { return targets[a] < targets[b]; });
  Int128 running = before_me;
  std::size_t next = 0;
  std::uint64_t last_positive = 0;
  for (std::uint64_t i = 0; i < nearest.squared.size() && next < mine.size(); ++i) {
    const std::int64_t weight = nearest.weight(nearest.squared[i]);
    if (weight == 0) continue;
    last_positive = i;
    running += weight;
    for (; next < mine.size() && targets[mine[next]] < running; ++next) refs[mine[next]].local_row = i;
  }
  // Unreachable with exact totals; a row of positive weight regardless.
  for (; next < mine.size(); ++next) refs[mine[next]].local_row = last_positive;
  return refs;
}

std::uint64_t trials_per_step(std::uint64_t k) {
  // scikit-learn's 2 + int(log(k)); what Arthur and Vassilvitskii tried.
  return 2 + static_cast<std::uint64_t>(std::log(static_cast<double>(k)));
}

// ---- k-means++ --------------------------------------------------------------------------------

std::vector<double> plus_plus(const engine::Communicator& comm, const linalg::RowBlockView& data,
                              const RowLayout& layout, const InitOptions& options) {
  const std::uint64_t n = data.global_rows, local_rows = data.local_rows;
  const std::size_t d = data.columns;
  const engine::CounterRng first_rng(options.seed, kFirstCentreStream);
  const engine::CounterRng trial_rng(options.seed, kTrialStream);
  const std::uint64_t trials = trials_per_step(options.k);

  const RowRef first = layout.locate(first_rng.draws(0, options.restart).below(n));
  std::vector<double> centres = fetch_rows(comm, data, std::span<const RowRef>(&first, 1));
  NearestDistances nearest = distances_to_first(comm, data, centres);
  std::vector<ExactSum> rank_totals = comm.allgather(ExactSum{nearest.local_total()});

  std::vector<std::uint64_t> nearest_centre(local_rows, 0);  // per local row: index into `centres`
  for (std::uint64_t step = 1; step < options.k; ++step) {
    auto draws = trial_rng.draws(step, options.restart);
    Int128 total = 0;
    for (const ExactSum& part : rank_totals) total += part.value;
    std::vector<RowRef> refs;
    if (total > 0) {
      std::vector<Int128> targets;
      for (std::uint64_t t = 0; t < trials; ++t) targets.push_back(scaled_target(total, draws.next_u64()));
      refs = weighted_rows(comm, nearest, rank_totals, targets);
    } else {
      refs.push_back(layout.locate(draws.below(n)));  // every row sits on a centre: all choices are equal
    }
    const std::vector<double> candidates = fetch_rows(comm, data, refs);
    const std::size_t count = refs.size();

    // The exact potential each candidate would leave, from this rank's rows: today's local total
    // minus what the rows it comes closer to would lose. A row computes a distance only when the
    // candidate may come closer than its nearest centre.
    const std::vector<double> gaps = squared_gaps(centres, candidates, d);
    const auto improved = [&](std::uint64_t i, std::size_t c) {
      const double current = nearest.squared[i];
      if (gaps[nearest_centre[i] * count + c] > 4 * current * kPruneSlack) return current;
      return std::min(current, squared_distance(data.row(i), &candidates[c * d], d));
    };
    std::vector<ExactSum> local_potential(count, rank_totals[static_cast<std::size_t>(comm.rank())]);
    for (std::uint64_t i = 0; i < local_rows; ++i) {
      for (std::size_t c = 0; c < count; ++c) {
        const double squared = improved(i, c);
        if (squared < nearest.squared[i]) {
          local_potential[c].value -= nearest.weight(nearest.squared[i]) - nearest.weight(squared);
        }
      }
    }
    // Every rank's share of every candidate's potential: the totals decide the candidate and the
    // chosen column is the next step's per-rank prefix, all from one collective.
    const std::vector<ExactSum> shares = comm.allgather(local_potential);
    std::vector<Int128> potential(count, 0);
    for (std::size_t r = 0; r < shares.size() / count; ++r) {
      for (std::size_t c = 0; c < count; ++c) potential[c] += shares[r * count + c].value;
    }
    const std::size_t best = static_cast<std::size_t>(std::min_element(potential.begin(), potential.end()) - potential.begin());
    for (std::size_t r = 0; r < rank_totals.size(); ++r) rank_totals[r] = shares[r * count + best];
    for (std::uint64_t i = 0; i < local_rows; ++i) {
      const double squared = improved(i, best);  // the same arithmetic as above: the same bits
      if (squared < nearest.squared[i]) {
        nearest.squared[i] = squared;
        nearest_centre[i] = step;
      }
    }
    centres.insert(centres.end(), candidates.begin() + static_cast<std::ptrdiff_t>(best * d),
                   candidates.begin() + static_cast<std::ptrdiff_t>((best + 1) * d));
  }
  return centres;
}

// ---- k-means|| ----------------------------------------------------------------------------------

/// Drops rows that repeat an earlier row of `rows` (exact equality), keeping the first occurrence
/// in order: candidates must be distinct for their weights to mean anything.
std::vector<double> without_repeats(std::vector<double> rows, std::size_t d) {
  const std::size_t count = rows.size() / d;
  std::vector<std::size_t> order(count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto row = [&rows, d](std::size_t i) { return rows.begin() + static_cast<std::ptrdiff_t>(i * d); };
  const auto less = [&](std::size_t a, std::size_t b) {
    return std::lexicographical_compare(row(a), row(a) + static_cast<std::ptrdiff_t>(d), row(b),
                                        row(b) + static_cast<std::ptrdiff_t>(d));
  };
  std::stable_sort(order.begin(), order.end(), less);
  std::vector<bool> repeat(count, false);
  for (std::size_t at = 1; at < count; ++at) {
    if (std::equal(row(order[at]), row(order[at]) + static_cast<std::ptrdiff_t>(d), row(order[at - 1]))) {
      repeat[order[at]] = true;  // stable: order[at - 1] is the earlier of the two
    }
  }
  std::vector<double> kept;
  for (std::size_t i = 0; i < count; ++i) {
    if (!repeat[i]) kept.insert(kept.end(), row(i), row(i) + static_cast<std::ptrdiff_t>(d));
  }
  return kept;
}

/// Greedy k-means++ over weighted points, computed locally (every rank has the same input and gets
/// the same output). Returns the indices of the chosen points; fewer than k when fewer points with
/// positive weight and distance exist.
std::vector<std::size_t> weighted_plus_plus(std::span<const double> points, std::size_t d,
                                            std::span<const std::uint64_t> weights, const InitOptions& options) {
  const std::size_t count = weights.size();
  const engine::CounterRng rng(options.seed, kReductionStream);
  const std::uint64_t trials = trials_per_step(options.k);
  std::vector<std::size_t> chosen;

  // The first point ∝ weight, in exact integers.
  const std::uint64_t total_weight = std::accumulate(weights.begin(), weights.end(), std::uint64_t{0});
  std::uint64_t target = rng.draws(0, options.restart).below(total_weight);
  std::size_t first = 0;
  while (target >= weights[first]) target -= weights[first++];
  chosen.push_back(first);

  std::vector<double> squared(count), trial_squared(count), best_squared(count);
  const auto distances_to = [&](std::size_t centre, std::vector<double>& out) {
    for (std::size_t c = 0; c < count; ++c) out[c] = squared_distance(&points[c * d], &points[centre * d], d);
  };
  const auto weighted_sum = [&](const std::vector<double>& values) {
    double sum = 0;
    for (std::size_t c = 0; c < count; ++c) sum += static_cast<double>(weights[c]) * values[c];
    return sum;
  };
  distances_to(first, squared);
  double potential = weighted_sum(squared);

  for (std::uint64_t step = 1; step < options.k && potential > 0; ++step) {
    auto draws = rng.draws(step, options.restart);
    std::size_t best_point = count;
    double best_potential = 0;
    for (std::uint64_t t = 0; t < trials; ++t) {
      const double goal = draws.uniform() * potential;
      std::size_t pick = count, last_positive = 0;
      double running = 0;
      for (std::size_t c = 0; c < count && pick == count; ++c) {
        const double mass = static_cast<double>(weights[c]) * squared[c];
        if (mass <= 0) continue;
        last_positive = c;
        running += mass;
        if (running > goal) pick = c;
      }
      if (pick == count) pick = last_positive;  // u·potential rounded up to the potential itself
      distances_to(pick, trial_squared);
      for (std::size_t c = 0; c < count; ++c) trial_squared[c] = std::min(trial_squared[c], squared[c]);
      const double trial_potential = weighted_sum(trial_squared);
      if (best_point == count || trial_potential < best_potential) {
        best_point = pick;
        best_potential = trial_potential;
        best_squared.swap(trial_squared);
      }
    }
    chosen.push_back(best_point);
    squared.swap(best_squared);
    potential = best_potential;
  }
  return chosen;
}

std::vector<double> parallel(const engine::Communicator& comm, const linalg::RowBlockView& data,
                             const RowLayout& layout, const InitOptions& options) {
  const std::uint64_t local_rows = data.local_rows;
  const std::size_t d = data.columns;
  const engine::CounterRng first_rng(options.seed, kFirstCentreStream);
  const engine::CounterRng oversample_rng(options.seed, kOversampleStream);
  const double oversampling = 2.0 * static_cast<double>(options.k);  // ℓ

  const RowRef first = layout.locate(first_rng.draws(0, options.restart).below(data.global_rows));
  std::vector<double> candidates = fetch_rows(comm, data, std::span<const RowRef>(&first, 1));
  NearestDistances nearest = distances_to_first(comm, data, candidates);
  std::vector<std::uint64_t> closest(local_rows, 0);  // per local row: index of its nearest candidate
  const auto exact_cost = [&] {
    Int128 cost = nearest.local_total();
    comm.allreduce_exact_sum_in_place(std::span<Int128>(&cost, 1));
    return cost;
  };
  Int128 cost = exact_cost();  // φ

  for (std::uint64_t round = 0; cost > 0 && round < kParallelMaxRounds; ++round) {
    if (round >= kParallelRounds && candidates.size() / d >= options.k) break;
    const double phi = nearest.scale.to_double(0, cost);
    const std::uint64_t substream = options.restart << 8 | round;
    std::vector<double> picked;  // this rank's picks, in row order
    for (std::uint64_t i = 0; i < local_rows; ++i) {
      const double probability = oversampling * nearest.squared[i] / phi;  // >= 1: always picked
      if (oversample_rng.draws(data.global_row(i), substream).uniform() < probability) {
        picked.insert(picked.end(), data.row(i), data.row(i) + d);
      }
    }
    // Gathered in rank order, which is global row order: the same list for any split.
    const std::vector<double> added = without_repeats(comm.allgatherv(picked).data, d);
    const std::uint64_t offset = candidates.size() / d, added_count = added.size() / d;
    candidates.insert(candidates.end(), added.begin(), added.end());
    // New candidates in order, in blocks that bound the gap table (every candidate so far × the
    // block); each row is pruned against its nearest candidate of the moment, so once a row has
    // met a candidate of its own cluster, the other clusters' candidates cost it one comparison.
    for (std::uint64_t block = offset; block < offset + added_count; block += kGapBlock) {
      const std::uint64_t block_count = std::min<std::uint64_t>(kGapBlock, offset + added_count - block);
      const std::span<const double> block_rows = std::span<const double>(candidates).subspan(block * d, block_count * d);
      const std::vector<double> gaps = squared_gaps(std::span<const double>(candidates).first((block + block_count) * d), block_rows, d);
      for (std::uint64_t i = 0; i < local_rows; ++i) {
        double limit = 4 * nearest.squared[i] * kPruneSlack;
        for (std::uint64_t c = 0; c < block_count; ++c) {
          if (gaps[closest[i] * block_count + c] > limit) continue;
          const double squared = squared_distance(data.row(i), &block_rows[c * d], d);
          if (squared < nearest.squared[i]) {  // strictly: a tie stays with the earlier candidate
            nearest.squared[i] = squared;
            closest[i] = block + c;
            limit = 4 * squared * kPruneSlack;
          }
        }
      }
    }
    cost = exact_cost();
  }

  // Weight of a candidate: the rows closest to it, counted exactly.
  std::vector<std::uint64_t> weights(candidates.size() / d, 0);
  for (const std::uint64_t c : closest) ++weights[c];
  comm.allreduce_in_place(weights, engine::ReduceOp::sum);

  std::vector<std::size_t> chosen = weighted_plus_plus(candidates, d, weights, options);
  // Fewer than k distinct candidates: the unchosen ones in order, then the chosen ones again.
  std::vector<bool> taken(weights.size(), false);
  for (const std::size_t c : chosen) taken[c] = true;
  for (std::size_t c = 0; c < weights.size() && chosen.size() < options.k; ++c) {
    if (!taken[c]) chosen.push_back(c);
  }
  for (std::size_t again = 0; chosen.size() < options.k; ++again) chosen.push_back(chosen[again]);

  std::vector<double> centres;
  centres.reserve(options.k * d);
  for (const std::size_t c : chosen) {
    centres.insert(centres.end(), candidates.begin() + static_cast<std::ptrdiff_t>(c * d),
                   candidates.begin() + static_cast<std::ptrdiff_t>((c + 1) * d));
  }
  return centres;
}

}  // namespace

std::vector<double> initial_centres(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                    const InitOptions& options) {
  // The options and the global shape are the same on every rank: these throw everywhere or nowhere.
  if (options.k == 0) throw std::invalid_argument("initial_centres: k must be at least 1");
  if (data.global_rows == 0) throw std::invalid_argument("initial_centres: the matrix has no rows");
  if (data.columns == 0) throw std::invalid_argument("initial_centres: the matrix has no columns");
  const RowLayout layout(comm, data);
  switch (options.method) {
    case InitMethod::kmeans_plus_plus:
      return plus_plus(comm, data, layout, options);
    case InitMethod::kmeans_parallel:
      return parallel(comm, data, layout, options);
  }
  throw std::invalid_argument("initial_centres: unknown method");
}

}  // namespace omniseg::kmeans
