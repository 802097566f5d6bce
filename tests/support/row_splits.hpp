// tests/support/row_splits.hpp — ways to split n rows over the ranks of an MPI test, for checks
// that a distributed result does not depend on the split (the same bytes under every one).
#pragma once

#include <cstdint>

#include "engine/block_distribution.hpp"
#include "tests/support/mpi_gtest_main.hpp"

namespace omniseg::testing {

enum class Split {
  blocks,        ///< the block distribution every command uses
  all_on_first,  ///< rank 0 holds every row (what a single-rank run sums), the others none
  all_on_last,   ///< the last rank holds every row
  uneven,        ///< quadratic boundaries: rank 0 gets few rows (often none), the last rank most
};
inline constexpr Split kSplits[] = {Split::blocks, Split::all_on_first, Split::all_on_last, Split::uneven};

/// This rank's rows of n under `split`, over the ranks of world().
inline engine::RowRange rows_of(Split split, std::uint64_t n) {
  const auto ranks = static_cast<std::uint64_t>(world().size()), rank = static_cast<std::uint64_t>(world().rank());
  switch (split) {
    case Split::blocks:
      return engine::BlockDistribution(n, world().size()).range(world().rank());
    case Split::all_on_first:
      return rank == 0 ? engine::RowRange{0, n} : engine::RowRange{n, n};
    case Split::all_on_last:
      return rank + 1 == ranks ? engine::RowRange{0, n} : engine::RowRange{0, 0};
    case Split::uneven: {
      const auto boundary = [&](std::uint64_t r) { return n * r * r / (ranks * ranks); };
      return {boundary(rank), boundary(rank + 1)};
    }
  }
  return {};
}

}  // namespace omniseg::testing
