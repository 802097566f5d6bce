// CounterRng: the published Random123 known-answer vectors for Philox4x64-10, purity (a draw is a
// function of its keys and counters only), and the distributions against their exact moments.
#include <gtest/gtest.h>

#include <Random123/philox.h>

#include <cmath>
#include <set>
#include <vector>

#include "engine/random.hpp"

namespace omniseg::engine {
namespace {

// Known-answer vectors from Random123's kat_vectors (philox4x64, 10 rounds).
TEST(CounterRng, MatchesPhiloxKnownAnswers) {
  // Counter and key all zero, through omniseg's own mapping (index, substream, block, 0).
  const auto zero = CounterRng(0, 0).bits(0, 0, 0);
  EXPECT_EQ(zero, (std::array<std::uint64_t, 4>{0x16554d9eca36314cULL, 0xdb20fe9d672d0fdcULL,
                                                0xd7e772cee186176bULL, 0x7e68b68aec7ba23bULL}));
  // The library itself, on vectors the mapping cannot express (the 4th counter word is 0 there).
  r123::Philox4x64 philox;
  const auto ones = philox({{~0ULL, ~0ULL, ~0ULL, ~0ULL}}, {{~0ULL, ~0ULL}});
  EXPECT_EQ(ones[0], 0x87b092c3013fe90bULL);
  EXPECT_EQ(ones[3], 0xa09caebf594f0ba0ULL);
  const auto pi = philox({{0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL}},
                         {{0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL}});
  EXPECT_EQ(pi[0], 0xa528f45403e61d95ULL);
  EXPECT_EQ(pi[1], 0x38c72dbd566e9788ULL);
  EXPECT_EQ(pi[2], 0xa5a1610e72fd18b5ULL);
  EXPECT_EQ(pi[3], 0x57bd43b5e52b7fe6ULL);
}

TEST(CounterRng, DrawsArePureFunctionsOfTheirKeys) {
  const CounterRng rng(7, 3);
  auto a = rng.draws(12345, 1);
  std::vector<std::uint64_t> first;
  for (int i = 0; i < 10; ++i) first.push_back(a.next_u64());
  // Other rows drawn in between change nothing.
  auto other = rng.draws(1, 1);
  (void)other.next_u64();
  auto b = rng.draws(12345, 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.next_u64(), first[static_cast<std::size_t>(i)]);
  // Draw i is word i % 4 of block i / 4.
  EXPECT_EQ(first[5], rng.bits(12345, 1, 1)[1]);
}

TEST(CounterRng, SeedStreamIndexAndSubstreamAllMatter) {
  std::set<std::uint64_t> seen;
  seen.insert(CounterRng(1, 1).draws(1, 1).next_u64());
  seen.insert(CounterRng(2, 1).draws(1, 1).next_u64());
  seen.insert(CounterRng(1, 2).draws(1, 1).next_u64());
  seen.insert(CounterRng(1, 1).draws(2, 1).next_u64());
  seen.insert(CounterRng(1, 1).draws(1, 2).next_u64());
  EXPECT_EQ(seen.size(), 5u);
}

TEST(CounterRng, UniformNormalExponentialMoments) {
  const CounterRng rng(2026, 1);
  constexpr int n = 200000;
  double u_sum = 0, u_sq = 0, z_sum = 0, z_sq = 0, e_sum = 0;
  double u_min = 1, u_max = 0;
  for (int i = 0; i < n; ++i) {
    auto draws = rng.draws(static_cast<std::uint64_t>(i));
    const double u = draws.uniform();
    const double z = draws.normal();
    const double e = draws.exponential(2.0);
    u_sum += u, u_sq += u * u, z_sum += z, z_sq += z * z, e_sum += e;
    u_min = std::min(u_min, u), u_max = std::max(u_max, u);
    ASSERT_GT(draws.uniform_positive(), 0.0);
  }
  // Standard errors: uniform mean 0.00065, normal mean 0.0022, variance 0.0032, exp mean 0.0011.
  EXPECT_NEAR(u_sum / n, 0.5, 0.004);
  EXPECT_NEAR(u_sq / n - std::pow(u_sum / n, 2), 1.0 / 12, 0.003);
  EXPECT_GE(u_min, 0.0);
  EXPECT_LT(u_max, 1.0);
  EXPECT_NEAR(z_sum / n, 0.0, 0.012);
  EXPECT_NEAR(z_sq / n, 1.0, 0.02);
  EXPECT_NEAR(e_sum / n, 0.5, 0.006);
}

TEST(CounterRng, BelowIsUniformAndInRange) {
  const CounterRng rng(5, 5);
  constexpr std::uint64_t bins = 7;
  constexpr int n = 70000;
  std::vector<int> counts(bins);
  for (int i = 0; i < n; ++i) {
    const auto x = rng.draws(static_cast<std::uint64_t>(i)).below(bins);
    ASSERT_LT(x, bins);
    ++counts[x];
  }
  double chi2 = 0;
  for (int c : counts) chi2 += std::pow(c - n / double(bins), 2) / (n / double(bins));
  EXPECT_LT(chi2, 22.46);  // chi-square, 6 degrees of freedom, p = 0.001
  EXPECT_EQ(rng.draws(1).below(1), 0u);
  EXPECT_THROW((void)rng.draws(1).below(0), std::invalid_argument);
  // A modulus close to 2^64 still lands in range (rejection path).
  const std::uint64_t huge = (1ULL << 63) + 12345;
  for (int i = 0; i < 100; ++i) EXPECT_LT(rng.draws(static_cast<std::uint64_t>(i)).below(huge), huge);
}

}  // namespace
}  // namespace omniseg::engine
