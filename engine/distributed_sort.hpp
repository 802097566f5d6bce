// engine/distributed_sort.hpp — sorting records spread over the ranks into consecutive blocks.
//
// Owns: a distributed sort of fixed-size records (sample sort with regular sampling, then one
// rebalancing exchange) whose result is the block distribution of the sorted list: rank r holds
// rows BlockDistribution(total, P).range(r) of it. With a strict total order the concatenation in
// rank order is the same list for any number of ranks. Does not own: variable-length records (sort
// fixed-size keys and fetch the payload afterwards) or the order itself (the caller's `less`).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/block_distribution.hpp"
#include "engine/communicator.hpp"

namespace omniseg::engine {
namespace detail {

/// Merges the sorted blocks of `data` (block b is [starts[b], starts[b + 1])) pairwise, in
/// log2(blocks) passes.
template <class T, class Less>
void merge_sorted_blocks(std::vector<T>& data, std::vector<std::uint64_t> starts, Less less) {
  while (starts.size() > 2) {
    std::vector<std::uint64_t> merged{0};
    for (std::size_t b = 0; b + 1 < starts.size(); b += 2) {
      const auto first = data.begin() + static_cast<std::ptrdiff_t>(starts[b]);
      if (b + 2 < starts.size()) {
        std::inplace_merge(first, data.begin() + static_cast<std::ptrdiff_t>(starts[b + 1]),
                           data.begin() + static_cast<std::ptrdiff_t>(starts[b + 2]), less);
        merged.push_back(starts[b + 2]);
      } else {
        merged.push_back(starts[b + 1]);  // an odd block out waits for the next pass
      }
    }
    starts = std::move(merged);
  }
}

}  // namespace detail

/// Collective. Sorts the records of all ranks by `less` (a strict weak order, the same on every
/// rank) and returns this rank's block of the sorted list: rows BlockDistribution(total, P).range(r).
/// Records that compare equal may land in any order; with a strict total order (no two records
/// equal) the concatenation over the ranks does not depend on the rank count. Any rank may pass
/// nothing. Memory: about twice the local records, plus `samples_per_rank` * P samples per rank.
template <Transportable T, class Less>
[[nodiscard]] std::vector<T> sort_into_blocks(const Communicator& comm, std::vector<T> local, Less less,
                                              std::uint64_t samples_per_rank = 0) {
  std::sort(local.begin(), local.end(), less);
  if (comm.size() == 1) return local;
  const auto ranks = static_cast<std::uint64_t>(comm.size());
  const std::uint64_t total = comm.allreduce(static_cast<std::uint64_t>(local.size()), ReduceOp::sum);
  if (total == 0) return local;

  // Regular samples of every rank's sorted records pick P - 1 splitters: with P samples per rank
  // no rank receives more than about twice its share (Shi and Schaeffer's PSRS bound).
  if (samples_per_rank == 0) samples_per_rank = 2 * ranks;
  const std::uint64_t local_count = local.size();
  const std::uint64_t taken = std::min(samples_per_rank, local_count);
  std::vector<T> samples;
  samples.reserve(taken);
  for (std::uint64_t s = 0; s < taken; ++s) samples.push_back(local[(2 * s + 1) * local_count / (2 * taken)]);
  auto all_samples = comm.allgatherv(samples).data;
  std::sort(all_samples.begin(), all_samples.end(), less);  // identical input and order on every rank

  // Records go to the rank whose splitter interval holds them: rank q gets [splitter q-1, splitter q).
  std::vector<std::uint64_t> send_counts(ranks, 0);
  std::uint64_t begin = 0;
  for (std::uint64_t q = 0; q < ranks; ++q) {
    std::uint64_t end = local_count;
    if (q + 1 < ranks) {
      const T& splitter = all_samples[(q + 1) * all_samples.size() / ranks];
      end = static_cast<std::uint64_t>(std::lower_bound(local.begin(), local.end(), splitter, less) -
                                       local.begin());
      end = std::max(end, begin);
    }
    send_counts[q] = end - begin;
    begin = end;
  }
  auto received = comm.alltoallv(local, send_counts);
  local = {};
  std::vector<std::uint64_t> starts{0};
  for (const std::uint64_t count : received.counts) starts.push_back(starts.back() + count);
  detail::merge_sorted_blocks(received.data, std::move(starts), less);

  // Rebalance: the ranks now hold consecutive ranges of the sorted list; move each row to the rank
  // of the block distribution that owns its global position.
  const std::uint64_t first = comm.exclusive_prefix_sum(received.data.size());
  const std::uint64_t last = first + received.data.size();
  const BlockDistribution blocks(total, comm.size());
  for (std::uint64_t q = 0; q < ranks; ++q) {
    const RowRange range = blocks.range(static_cast<int>(q));
    const std::uint64_t overlap_begin = std::max(range.begin, first), overlap_end = std::min(range.end, last);
    send_counts[q] = overlap_end > overlap_begin ? overlap_end - overlap_begin : 0;
  }
  return comm.alltoallv(received.data, send_counts).data;
}

}  // namespace omniseg::engine
