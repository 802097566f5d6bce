// engine/exact_sum.hpp — sums of doubles whose bits do not depend on how the rows are split.
//
// Owns: a fixed-point image of doubles (one power-of-two scale per column, chosen from the global
// largest magnitude so that every scaled value fits in 62 bits) and sums of those images in 128-bit
// integers. Integer addition is associative, so the sum is the same whatever the order, the
// partitioning over ranks or the reduction tree; reduced across ranks with
// Communicator::allreduce_exact_sum_in_place. Does not own: when a caller needs this (centroid sums,
// column means, inertia) rather than a plain floating-point reduction.
//
// Accuracy: a value x of column j is rounded to a multiple of 2^-e_j, where 2^(50-e_j) > max|x_j|,
// so its absolute error is at most 2^-50 of the column's largest magnitude (4 units in the last
// place of a double there). A sum of n such values is exact after that rounding, and converts back
// to the nearest double. Columns whose largest magnitude is below 2^-973 (deep in the subnormal
// range) get the largest finite scale 2^1023, and their values round to zero.
//
// Speed: 50-bit images round with one floating-point add (the 1.5·2^52 trick, which vectorises;
// llrint does not), and up to 2^13 of them sum in an int64 without overflow, so hot loops keep
// 64-bit partial sums (FixedPointScales::rows_per_partial_sum) and fold them into Int128 now and then.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <vector>

namespace omniseg::engine {

__extension__ typedef __int128 Int128;  // GCC/Clang; __extension__ keeps -Wpedantic quiet
__extension__ typedef unsigned __int128 UInt128;

/// Power-of-two fixed-point scales, one per column.
class FixedPointScales {
 public:
  /// |image| < 2^kValueBits: exact shifter rounding (below 2^51), and 2^(127 - 50) images fit in an Int128.
  static constexpr int kValueBits = 50;

  /// Scales for columns whose global largest magnitudes are `max_abs` (finite, >= 0; the same on
  /// every rank, e.g. from an allreduce with ReduceOp::max).
  static FixedPointScales for_max_abs(std::span<const double> max_abs) {
    FixedPointScales scales;
    scales.exponents_.reserve(max_abs.size());
    for (const double bound : max_abs) {
      if (!(bound >= 0) || !std::isfinite(bound)) {
        throw std::invalid_argument("FixedPointScales: column bounds must be finite and >= 0");
      }
      int binary_exponent = 0;  // bound = m * 2^binary_exponent with m in [0.5, 1), so bound < 2^binary_exponent
      std::frexp(bound, &binary_exponent);
      // Zero columns get the scale of 1.0; all their values are 0 anyway.
      const int exponent = kValueBits - (bound == 0 ? 1 : binary_exponent);
      scales.exponents_.push_back(std::min(exponent, std::numeric_limits<double>::max_exponent - 1));
      scales.multipliers_.push_back(std::ldexp(1.0, scales.exponents_.back()));
    }
    return scales;
  }

  [[nodiscard]] std::size_t columns() const { return exponents_.size(); }
  /// x * 2^e_j rounded to the nearest integer (ties to even); |x| must not exceed the column bound.
  [[nodiscard]] std::int64_t to_fixed(std::size_t column, double x) const {
    return round_to_integer(x * multipliers_[column]);  // a power of two: the product is exact
  }
  /// The nearest integer to v (ties to even) for |v| < 2^51: adding 1.5·2^52 leaves v's integer
  /// part in the low bits of the sum's mantissa.
  [[nodiscard]] static std::int64_t round_to_integer(double v) {
    constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52
    return std::bit_cast<std::int64_t>(v + shifter) - std::bit_cast<std::int64_t>(shifter);
  }
  /// How many images an int64 partial sum can take before it must be folded into an Int128.
  static constexpr std::uint64_t rows_per_partial_sum = std::uint64_t{1} << (62 - kValueBits);
  /// The double nearest to sum * 2^-e_j.
  [[nodiscard]] double to_double(std::size_t column, Int128 sum) const {
    return std::ldexp(static_cast<double>(sum), -exponents_[column]);
  }
  /// 2^e_j, for callers that scale many values of one column in a loop.
  [[nodiscard]] double multiplier(std::size_t column) const { return multipliers_[column]; }

 private:
  std::vector<int> exponents_;
  std::vector<double> multipliers_;  // 2^exponents_
};

}  // namespace omniseg::engine
