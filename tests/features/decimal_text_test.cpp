// The fast number writers against fmt's "{}" (what features.csv and baskets.dat were written with):
// integers at the int64 edges, doubles that are integers (the fast path) up to and past 2^53, signed
// zeros, shares, money amounts, subnormals, infinities and NaN.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "algorithms/features/decimal_text.hpp"

namespace omniseg::features {
namespace {

std::string decimal(std::int64_t value) {
  char buffer[max_number_chars];
  return std::string(buffer, write_decimal(buffer, value));
}

std::string shortest(double value) {
  char buffer[max_number_chars];
  return std::string(buffer, write_shortest(buffer, value));
}

TEST(DecimalText, IntegersEqualFmt) {
  std::vector<std::int64_t> values = {0, 1, -1, 9, 10, -10, 99, 100, 101, 999999, 1000000,
                                      std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()};
  for (std::int64_t p = 1; p <= std::numeric_limits<std::int64_t>::max() / 10; p *= 10) {
    for (const std::int64_t v : {p - 1, p, p + 1, -p + 1, -p, -p - 1}) values.push_back(v);
  }
  std::mt19937_64 random(1);
  for (int i = 0; i < 100000; ++i) values.push_back(static_cast<std::int64_t>(random()) >> (random() % 64));
  for (const std::int64_t v : values) {
    ASSERT_EQ(decimal(v), fmt::format("{}", v));
    ASSERT_EQ(decimal_length(v), fmt::format("{}", v).size()) << v;
  }
}

TEST(DecimalText, DoublesEqualFmt) {
  const double two53 = 9007199254740992.0;
  std::vector<double> values = {0.0, -0.0, 1.0, -1.0, 0.5, 1e15, 1e16, 1e17, two53, two53 - 1, -two53, -(two53 - 1), two53 + 2,
                                1e-5, 1e-4, 123456.789, 0.1, 1.0 / 3.0, 2.0 / 3.0, 1e300, -1e-300,
                                std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::lowest(), std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
                                -std::numeric_limits<double>::quiet_NaN(), 0.0001, 0.00012345, 0.000099999, 1.5e-5, -0.001,
                                9999999999999998.0, 1e16 + 2, 0x1p60, 123456789012345678.0, 1.5e100, 2.5e-100, 0.1 + 0.2,
                                86399.0 / 86400.0, 1234.5678, -98765.4321};
  std::mt19937_64 random(2);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < 200000; ++i) {
    values.push_back(unit(random));                                                         // shares
    values.push_back(static_cast<double>(static_cast<std::int64_t>(random() % 2000000000) - 1000000000) / 10000.0);  // money
    values.push_back(static_cast<double>(static_cast<std::int64_t>(random() >> (random() % 64))));  // integers of any size
    values.push_back(std::ldexp(unit(random), static_cast<int>(random() % 2100) - 1075));  // any exponent
  }
  for (const double v : values) ASSERT_EQ(shortest(v), fmt::format("{}", v)) << v;
}

}  // namespace
}  // namespace omniseg::features
