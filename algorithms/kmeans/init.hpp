// algorithms/kmeans/init.hpp — initial centres for K-means: k-means++ and k-means||.
//
// Owns: the seeding policy slot of K-means. Both methods are collective and return the same k × d
// centres, bit for bit, on every rank and for any number of ranks and any split of the rows:
// every random draw is keyed by (seed, purpose) with the counter set from a step number or a
// global row id (engine/random.hpp), never by rank; every sum that decides a choice (the total
// D² that k-means++ samples from, the cost φ of k-means||) is an exact 128-bit fixed-point sum
// (engine/exact_sum.hpp); per-point distances are summed over the columns in order, by one
// routine, whichever rank holds the point. Does not own: Lloyd iterations, restarts and the
// choice between them (algorithms/kmeans/lloyd.hpp), checks of the input (k <= n, finite values),
// which the caller makes.
//
// k-means++ is scikit-learn's greedy variant: the first centre is a uniform row; each further
// centre is the best of 2 + floor(ln k) candidates sampled with probability ∝ D² (the candidate
// that lowers the total D² most, the first on a tie). Sampling across ranks: a uniform u, the same
// on every rank, gives the target u·Σ D²; the global row where the prefix of D² in global row order
// crosses it is found from the ranks' exact partial sums, and its rank contributes the row.
// Cost per centre: at most O(n·d·trials / P), and three small collectives.
//
// k-means|| (Bahmani et al., "Scalable K-Means++", 2012): from one uniform row, 5 rounds in which
// every row is picked independently with probability min(1, ℓ·D²/φ), ℓ = 2k; the picked rows join
// the candidates; each candidate is weighted by the number of rows closest to it (exact counts); a
// weighted greedy k-means++ on the candidates, computed identically by every rank, keeps k. Five
// rounds with ℓ = 2k is the paper's own recommendation (more rounds did not improve the final
// cost in its experiments); they give at most about 10k candidates at O(n·d·k) work in total.
//
// Both skip a distance when the triangle inequality proves that the candidate cannot come closer
// to the row than its nearest centre (‖c − a‖ >= 2·D): on clustered data most rows then pay one
// comparison per candidate instead of d multiply-adds. The skip depends only on the row and the
// centres, so it changes no result bit and no rank count changes it.
//
// D² values enter the exact sums as fixed-point images at one scale for the whole run, from the
// largest D² to the first centre (engine::FixedPointScales: a resolution of 2^-kValueBits of it): a
// row closer than that to its nearest centre is never sampled, like a row at distance zero.
// Memory per local row: its D² and the index of its nearest centre.
// When every row coincides with a chosen centre (fewer distinct rows than k), rows are picked
// uniformly instead, so the result has repeated centres rather than a division by zero.
//
// Random streams used (the key's second word): 0x6b6d696e69740001..04 ("kminit" + purpose).
#pragma once

#include <cstdint>
#include <vector>

#include "algorithms/linalg/row_block.hpp"
#include "engine/communicator.hpp"

namespace omniseg::kmeans {

enum class InitMethod { kmeans_plus_plus, kmeans_parallel };

struct InitOptions {
  InitMethod method = InitMethod::kmeans_plus_plus;
  std::uint64_t k = 0;        ///< centres to return, >= 1
  std::uint64_t seed = 0;
  std::uint64_t restart = 0;  ///< which of --n-init restarts: a separate substream of every draw
};

/// Rounds of k-means|| before the weighted reduction. Further rounds (at most
/// kParallelMaxRounds in all) run only while fewer than k distinct candidates exist and some row
/// is still away from all of them.
inline constexpr std::uint64_t kParallelRounds = 5;
inline constexpr std::uint64_t kParallelMaxRounds = 64;

/// Collective: k×d row-major initial centres, identical on every rank and for any rank count.
/// Every centre is a row of the data. They are distinct rows when the data has at least k distinct
/// rows; otherwise all distinct rows appear and the rest repeat them. Throws std::invalid_argument
/// on every rank when k = 0, the matrix is empty, or the ranks' blocks do not tile the global rows.
[[nodiscard]] std::vector<double> initial_centres(const engine::Communicator& comm, const linalg::RowBlockView& data,
                                                  const InitOptions& options);

}  // namespace omniseg::kmeans
