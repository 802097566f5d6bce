// engine/random.hpp — counter-based random numbers keyed by global row id, never by rank.
//
// Owns: a Philox4x64-10 generator (Random123) keyed by (seed, stream). A draw is a pure function
// of (seed, stream, global index, substream, draw number), so row i gets the same numbers on
// whichever rank holds it, for any number of ranks, and draws need no state shared between rows.
// Streams separate purposes (generator columns, k-means++ sampling, ...), substreams separate
// repetitions of one purpose (an iteration, a restart).
#pragma once

#include <array>
#include <cstdint>

namespace omniseg::engine {

class RowDraws;

class CounterRng {
 public:
  CounterRng(std::uint64_t seed, std::uint64_t stream) : key_{seed, stream} {}

  /// 256 random bits: a pure function of (seed, stream, index, substream, block).
  [[nodiscard]] std::array<std::uint64_t, 4> bits(std::uint64_t index, std::uint64_t substream,
                                                  std::uint64_t block) const;

  /// The sequence of draws for one global index (and substream).
  [[nodiscard]] RowDraws draws(std::uint64_t index, std::uint64_t substream = 0) const;

  [[nodiscard]] std::uint64_t seed() const { return key_[0]; }
  [[nodiscard]] std::uint64_t stream() const { return key_[1]; }

 private:
  std::array<std::uint64_t, 2> key_;
};

/// Sequential draws for one (index, substream). Cheap to create: make one per row.
class RowDraws {
 public:
  RowDraws(const CounterRng& rng, std::uint64_t index, std::uint64_t substream)
      : rng_(rng), index_(index), substream_(substream) {}

  std::uint64_t next_u64();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform in (0, 1]: safe under log().
  double uniform_positive();
  /// Uniform integer in [0, n), unbiased (rejection); n > 0.
  std::uint64_t below(std::uint64_t n);
  /// Standard normal (Box–Muller).
  double normal();
  /// Exponential with the given rate.
  double exponential(double rate);

 private:
  CounterRng rng_;
  std::uint64_t index_;
  std::uint64_t substream_;
  std::uint64_t block_ = 0;
  std::array<std::uint64_t, 4> buffer_{};
  unsigned used_ = 4;  // all of buffer_ used: the next draw computes a new block
};

}  // namespace omniseg::engine
