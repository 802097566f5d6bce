#include "engine/random.hpp"

#include <Random123/philox.h>

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace omniseg::engine {

std::array<std::uint64_t, 4> CounterRng::bits(std::uint64_t index, std::uint64_t substream,
                                              std::uint64_t block) const {
  const r123::Philox4x64::ctr_type counter = {{index, substream, block, 0}};
  const r123::Philox4x64::key_type key = {{key_[0], key_[1]}};
  const auto out = r123::Philox4x64()(counter, key);
  return {out[0], out[1], out[2], out[3]};
}

RowDraws CounterRng::draws(std::uint64_t index, std::uint64_t substream) const {
  return RowDraws(*this, index, substream);
}

std::uint64_t RowDraws::next_u64() {
  if (used_ == buffer_.size()) {
    buffer_ = rng_.bits(index_, substream_, block_++);
    used_ = 0;
  }
  return buffer_[used_++];
}

double RowDraws::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double RowDraws::uniform_positive() { return (static_cast<double>(next_u64() >> 11) + 1.0) * 0x1.0p-53; }

std::uint64_t RowDraws::below(std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("RowDraws::below: n must be positive");
  // Reject the lowest (2^64 mod n) values so every residue is equally likely.
  const std::uint64_t threshold = (0 - n) % n;
  while (true) {
    const std::uint64_t x = next_u64();
    if (x >= threshold) return x % n;
  }
}

double RowDraws::normal() {
  const double radius = std::sqrt(-2.0 * std::log(uniform_positive()));
  return radius * std::cos(2.0 * std::numbers::pi * uniform());
}

double RowDraws::exponential(double rate) { return -std::log(uniform_positive()) / rate; }

}  // namespace omniseg::engine
