// bench/qr_blocking.cpp — picks TSQR's local blocking (algorithms/pca/tsqr.hpp: QrBlocking): the R
// of a 1,000,000 × 64 block, streamed in chunks of b rows, for b × panel width nb, by the two ways
// of absorbing a chunk: LAPACK dtpqrt (R and the chunk as a triangle-pentagon pair) and dgeqrt on
// the stacked (d + b) × d matrix (what omniseg does). One BLAS thread. Prints GFLOP/s of the useful
// 2·n·d² flops; the R's first entry is printed to show both ways agree.
//   build/bench/omniseg_qr_blocking
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "algorithms/linalg/blas.hpp"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

using omniseg::linalg::geqrt;
using omniseg::linalg::tpqrt;

/// Streams the rows through tpqrt: the first chunk by geqrt, every later one against R.
double time_tpqrt(const std::vector<double>& x, long n, long d, long b, long nb, double& r00) {
  std::vector<double> r(d * d, 0.0), chunk(b * d), t(nb * d);
  const double start = now_s();
  for (long first = 0; first < n; first += b) {
    const long m = std::min(b, n - first);
    for (long i = 0; i < m; ++i) {
      for (long j = 0; j < d; ++j) chunk[j * m + i] = x[(first + i) * d + j];
    }
    if (first == 0) {
      geqrt(m, d, nb, chunk.data(), m, t.data(), nb);
      for (long j = 0; j < d; ++j) {
        for (long i = 0; i <= j; ++i) r[j * d + i] = chunk[j * m + i];
      }
    } else {
      tpqrt(m, d, nb, r.data(), d, chunk.data(), m, t.data(), nb);
    }
  }
  r00 = std::abs(r[0]);
  return now_s() - start;
}

/// Streams the rows through dgeqrt on [R; chunk].
double time_stacked(const std::vector<double>& x, long n, long d, long b, long nb, double& r00) {
  std::vector<double> stacked((b + d) * d), t(nb * d), r(d * d, 0.0);
  const double start = now_s();
  for (long first = 0; first < n; first += b) {
    const long m = std::min(b, n - first), rows = m + d;
    for (long j = 0; j < d; ++j) {
      for (long i = 0; i < d; ++i) stacked[j * rows + i] = r[j * d + i];
      for (long i = 0; i < m; ++i) stacked[j * rows + d + i] = x[(first + i) * d + j];
    }
    geqrt(rows, d, nb, stacked.data(), rows, t.data(), nb);
    for (long j = 0; j < d; ++j) {
      for (long i = 0; i < d; ++i) r[j * d + i] = i <= j ? stacked[j * rows + i] : 0.0;
    }
  }
  r00 = std::abs(r[0]);
  return now_s() - start;
}

}  // namespace

int main() {
  omniseg::linalg::use_one_blas_thread();
  const long n = 1000000, d = 64;
  std::vector<double> x(n * d);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal;
  for (double& value : x) value = normal(rng);
  const double flops = 2.0 * n * d * d;
  std::printf("| chunk rows b | panel nb | dtpqrt GFLOP/s | stacked dgeqrt GFLOP/s |\n|---:|---:|---:|---:|\n");
  for (const long b : {256L, 512L, 1024L, 2048L}) {
    for (const long nb : {16L, 32L, 64L}) {
      double r_tp = 0, r_stacked = 0;
      const double tp = time_tpqrt(x, n, d, b, nb, r_tp);
      const double stacked = time_stacked(x, n, d, b, nb, r_stacked);
      std::printf("| %ld | %ld | %.1f | %.1f |   (R00 %.9g %.9g)\n", b, nb, flops / tp / 1e9, flops / stacked / 1e9,
                  r_tp, r_stacked);
    }
  }
}
