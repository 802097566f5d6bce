// tests/kmeans/kmeans_test_data.hpp — the small dense matrices the K-means tests cluster: a whole
// matrix every rank builds alike (each rank then takes its rows), Gaussian blobs, and initial
// centres picked from the rows.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "algorithms/kmeans/lloyd.hpp"
#include "algorithms/linalg/row_block.hpp"

namespace omniseg::kmeans::test_data {

struct Matrix {
  std::uint64_t rows = 0, columns = 0;
  std::vector<double> values;
  [[nodiscard]] const double* row(std::uint64_t i) const { return values.data() + i * columns; }
  /// The view of rows [begin, end) as a rank holding them would see them.
  [[nodiscard]] linalg::RowBlockView view(std::uint64_t begin, std::uint64_t end) const {
    return {std::span<const double>(values).subspan(begin * columns, (end - begin) * columns), end - begin, columns,
            begin, rows};
  }
  [[nodiscard]] linalg::RowBlockView view() const { return view(0, rows); }
};

/// Gaussian points (standard deviation `spread`) around `k` random centres in [-10, 10)^d,
/// shifted by `offset` in every column.
inline Matrix blobs(std::uint64_t n, std::uint64_t d, std::uint64_t k, std::uint64_t seed, double spread = 1.5,
                    double offset = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-10, 10);
  std::normal_distribution<double> normal;
  std::vector<double> means(k * d);
  for (double& mean : means) mean = uniform(rng);
  Matrix m{n, d, std::vector<double>(n * d)};
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t c = rng() % k;
    for (std::uint64_t col = 0; col < d; ++col) m.values[i * d + col] = offset + means[c * d + col] + spread * normal(rng);
  }
  return m;
}

/// Rows `first`, `first + step`, ... (wrapping around) of the data as initial centres.
inline std::vector<double> rows_as_centres(const Matrix& x, std::uint64_t k, std::uint64_t first, std::uint64_t step) {
  std::vector<double> centres;
  for (std::uint64_t j = 0; j < k; ++j) {
    const double* row = x.row((first + j * step) % x.rows);
    centres.insert(centres.end(), row, row + x.columns);
  }
  return centres;
}

/// `k` rows of `data` (every 7919th, wrapping around), perturbed by 0.1 · N(0, 1), as centres.
inline std::vector<double> perturbed_rows_as_centres(const Matrix& data, std::uint64_t k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> centres;
  for (std::uint64_t j = 0; j < k; ++j) {
    const double* row = data.row((j * 7919 + 13) % data.rows);
    for (std::uint64_t col = 0; col < data.columns; ++col) centres.push_back(row[col] + 0.1 * normal(rng));
  }
  return centres;
}

/// The centres after move `step` (0, 1, ...) of a random walk that shrinks as Lloyd's moves do:
/// every centre but each third moves by N(0, (2 / 2^step)² / d) in every column.
inline std::vector<double> shrinking_move(const std::vector<double>& centres, std::uint64_t d, int step,
                                          std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> moved = centres;
  const double size = 2.0 / (1 << step) / std::sqrt(static_cast<double>(d));
  for (std::uint64_t j = 0; j < centres.size() / d; ++j) {
    if (j % 3 == 1) continue;
    for (std::uint64_t col = 0; col < d; ++col) moved[j * d + col] += size * normal(rng);
  }
  return moved;
}

/// Lloyd options with the limits a test varies; the rest default.
inline LloydOptions settings(std::uint64_t max_iterations, double tolerance, Pruning pruning = Pruning::automatic) {
  LloydOptions options;
  options.max_iterations = max_iterations;
  options.tolerance = tolerance;
  options.pruning = pruning;
  return options;
}

/// A split of the rows over the ranks: rank r holds rows [cuts[r], cuts[r + 1]).
using Cuts = std::vector<std::uint64_t>;

}  // namespace omniseg::kmeans::test_data
