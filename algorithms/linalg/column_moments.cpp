#include "algorithms/linalg/column_moments.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/exact_sum.hpp"

namespace omniseg::linalg {
namespace {

/// Exact global column sums of term(column, value), with fixed-point scales from the global
/// per-column largest |term|. Two passes over the local rows: bounds, then sums. Both inner loops
/// run along a row with no dependence between columns, so the compiler vectorises them.
template <class Term>
std::vector<double> exact_column_sums(const engine::Communicator& comm, const RowBlockView& data, Term term) {
  const std::size_t d = data.columns;
  std::vector<double> largest(d, 0.0);
  for (std::uint64_t i = 0; i < data.local_rows; ++i) {
    const double* row = data.row(i);
    for (std::size_t j = 0; j < d; ++j) largest[j] = std::max(largest[j], std::abs(term(j, row[j])));
  }
  comm.allreduce_in_place(largest, engine::ReduceOp::max);
  const auto scales = engine::FixedPointScales::for_max_abs(largest);
  std::vector<double> multipliers(d);
  for (std::size_t j = 0; j < d; ++j) multipliers[j] = scales.multiplier(j);
  std::vector<engine::Int128> sums(d, 0);
  std::vector<std::int64_t> partial(d);
  for (std::uint64_t first = 0; first < data.local_rows; first += engine::FixedPointScales::rows_per_partial_sum) {
    const std::uint64_t end = std::min(data.local_rows, first + engine::FixedPointScales::rows_per_partial_sum);
    std::fill(partial.begin(), partial.end(), 0);
    for (std::uint64_t i = first; i < end; ++i) {
      const double* row = data.row(i);
      for (std::size_t j = 0; j < d; ++j) {
        partial[j] += engine::FixedPointScales::round_to_integer(term(j, row[j]) * multipliers[j]);
      }
    }
    for (std::size_t j = 0; j < d; ++j) sums[j] += partial[j];
  }
  comm.allreduce_exact_sum_in_place(sums);
  std::vector<double> result(d);
  for (std::size_t j = 0; j < d; ++j) result[j] = scales.to_double(j, sums[j]);
  return result;
}

}  // namespace

ColumnMoments exact_column_moments(const engine::Communicator& comm, const RowBlockView& data, bool with_deviation) {
  if (data.global_rows == 0) throw std::invalid_argument("exact_column_moments: the matrix has no rows");
  const auto n = static_cast<double>(data.global_rows);
  ColumnMoments moments;
  moments.mean = exact_column_sums(comm, data, [](std::size_t, double x) { return x; });
  for (double& mean : moments.mean) mean /= n;
  if (!with_deviation) return moments;
  const auto& mean = moments.mean;
  auto squares = exact_column_sums(comm, data, [&mean](std::size_t j, double x) {
    const double deviation = x - mean[j];
    return deviation * deviation;
  });
  for (double& sum : squares) {
    const double deviation = std::sqrt(sum / n);
    moments.standard_deviation.push_back(deviation);
    moments.scale.push_back(deviation > 0 ? deviation : 1.0);
  }
  return moments;
}

}  // namespace omniseg::linalg
