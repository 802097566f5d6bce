#include "engine/hash_join.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "engine/random.hpp"

namespace omniseg::engine::detail {
namespace {

/// Sampled left rows for the heavy-key search: enough that a key at 1/(4P) of the rows shows up
/// hundreds of times for any realistic P, few enough to gather on every rank cheaply.
constexpr std::uint64_t kHeavyKeySample = std::uint64_t{1} << 16;
/// CounterRng key of the sample: fixed, so the sampled positions depend only on the row count.
constexpr std::uint64_t kHeavyKeySeed = 0x6a6f696e736b6577ULL;  // "joinskew"
constexpr std::uint64_t kHeavyKeyStream = 1;

}  // namespace

HashDirectory::HashDirectory(std::span<const std::uint64_t> hashes) {
  const std::uint64_t rows = hashes.size();
  if (rows > max_rows) {
    throw std::length_error("hash_join: " + std::to_string(rows) + " right rows on one rank; at most " +
                            std::to_string(max_rows) + " fit one hash directory");
  }
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, 2 * static_cast<std::size_t>(rows)));
  mask_ = capacity - 1;
  slots_.resize(capacity);
  next_.resize(rows);
  // Backwards, so that every chain lists its rows in ascending order.
  for (std::uint64_t i = rows; i-- > 0;) {
    const std::uint64_t hash = hashes[i];
    const std::uint32_t tag = tag_of(hash);
    const auto row = static_cast<std::uint32_t>(i);
    for (std::size_t at = home(hash);; at = following(at)) {
      Slot& slot = slots_[at];
      if (slot.row_plus_one == 0) {
        slot = {.row_plus_one = row + 1, .tag = tag};
        next_[row] = no_row;
        break;
      }
      if ((slot.tag & ~1U) == tag && hashes[slot.row_plus_one - 1] == hash) {
        next_[row] = slot.row_plus_one - 1;
        slot.row_plus_one = row + 1;
        slot.tag |= 1U;
        break;
      }
    }
  }
}

HeavyKeys find_heavy_keys(const Communicator& comm, std::span<const std::uint64_t> left_hashes, double share) {
  const std::uint64_t local_rows = left_hashes.size();
  const std::uint64_t total = comm.allreduce(local_rows, ReduceOp::sum);
  const std::uint64_t first = comm.exclusive_prefix_sum(local_rows);
  std::vector<std::uint64_t> sample;
  std::uint64_t sample_size = 0;
  if (total <= kHeavyKeySample) {
    sample.assign(left_hashes.begin(), left_hashes.end());  // few rows: count them all, exactly
    sample_size = total;
  } else {
    // Global positions drawn with replacement; each rank keeps those that fall in its rows.
    const CounterRng rng(kHeavyKeySeed, kHeavyKeyStream);
    for (std::uint64_t s = 0; s < kHeavyKeySample; ++s) {
      const std::uint64_t position = rng.draws(s).below(total);
      if (position >= first && position < first + local_rows) sample.push_back(left_hashes[position - first]);
    }
    sample_size = kHeavyKeySample;
  }
  std::vector<std::uint64_t> all = comm.allgatherv(sample).data;
  std::sort(all.begin(), all.end());
  HeavyKeys heavy;
  const double limit = share * static_cast<double>(sample_size);
  for (std::size_t begin = 0; begin < all.size();) {
    std::size_t end = begin + 1;
    while (end < all.size() && all[end] == all[begin]) ++end;
    if (static_cast<double>(end - begin) > limit) heavy.hashes.push_back(all[begin]);
    begin = end;
  }
  return heavy;
}

void agree_on_input(const Communicator& comm, const std::string& problem) {
  if (!comm.any_of(!problem.empty())) return;
  throw std::invalid_argument(problem.empty() ? std::string("hash_join: invalid input on another rank") : problem);
}

}  // namespace omniseg::engine::detail
