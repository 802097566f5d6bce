// Fixed-point images against independent arithmetic: the shifter rounding equals std::nearbyint
// (ties to even, negative values, the edge of the 2^50 range), scales put every image below 2^50,
// a sum of images converts back to the correctly rounded double, and the order of summation
// changes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/exact_sum.hpp"

namespace omniseg::engine {
namespace {

TEST(FixedPoint, ShifterRoundingEqualsNearbyint) {
  const double edge = std::ldexp(1.0, 50);
  std::vector<double> values = {0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 1e-300,
                                edge, -edge, edge - 0.5, -edge + 0.5, 123456789.75, -987654321.25};
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> uniform(-edge, edge);
  for (int i = 0; i < 100000; ++i) values.push_back(uniform(rng) / std::ldexp(1.0, static_cast<int>(rng() % 50)));
  for (const double v : values) {
    EXPECT_EQ(FixedPointScales::round_to_integer(v), static_cast<std::int64_t>(std::nearbyint(v))) << v;
  }
}

TEST(FixedPoint, ScalesKeepImagesBelowTwoToTheFifty) {
  const std::vector<double> bounds = {0.0, 1e-310, 1e-5, 0.75, 1.0, 3.0, 1e10, 1e300};
  const auto scales = FixedPointScales::for_max_abs(bounds);
  for (std::size_t j = 0; j < bounds.size(); ++j) {
    EXPECT_LE(std::abs(scales.to_fixed(j, bounds[j])), std::int64_t{1} << FixedPointScales::kValueBits);
    EXPECT_LE(std::abs(scales.to_fixed(j, -bounds[j])), std::int64_t{1} << FixedPointScales::kValueBits);
    // The top value comes back within 2^-50 of itself (the subnormal column: within 2^-1023).
    const double tolerance = bounds[j] < 1e-300 ? std::ldexp(1.0, -1023) : std::ldexp(bounds[j], -50);
    EXPECT_NEAR(scales.to_double(j, scales.to_fixed(j, bounds[j])), bounds[j], tolerance) << bounds[j];
    EXPECT_TRUE(std::isfinite(scales.multiplier(j)));
  }
  EXPECT_THROW(FixedPointScales::for_max_abs(std::vector<double>{std::nan("")}), std::invalid_argument);
  EXPECT_THROW(FixedPointScales::for_max_abs(std::vector<double>{-1.0}), std::invalid_argument);
}

TEST(FixedPoint, SumsDoNotDependOnOrderAndMatchLongDouble) {
  std::mt19937_64 rng(2);
  std::normal_distribution<double> normal(3.0, 100.0);
  std::vector<double> values(20000);
  for (double& v : values) v = normal(rng);
  double largest = 0;
  for (const double v : values) largest = std::max(largest, std::abs(v));
  const auto scales = FixedPointScales::for_max_abs(std::vector<double>{largest});
  const auto exact_sum = [&](const std::vector<double>& order) {
    Int128 sum = 0;
    for (const double v : order) sum += scales.to_fixed(0, v);
    return sum;
  };
  const Int128 forward = exact_sum(values);
  auto shuffled = values;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  EXPECT_TRUE(exact_sum(shuffled) == forward);
  long double reference = 0;
  for (const double v : values) reference += v;
  // Each image is within 2^-51 of the largest value; the sum within n times that.
  const double tolerance = static_cast<double>(values.size()) * std::ldexp(largest, -51);
  EXPECT_NEAR(scales.to_double(0, forward), static_cast<double>(reference), tolerance);
}

}  // namespace
}  // namespace omniseg::engine
