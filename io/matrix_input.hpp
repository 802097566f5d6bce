// io/matrix_input.hpp — a dense n×d matrix read from HDF5, each rank its own block of rows.
//
// Owns: the `FILE.h5:/path/to/dataset` notation of the command line, the checks a matrix input
// must pass (a 2-D floating-point dataset, at least one column, finite values), and the parallel
// read of the block distribution's rows (float32 is read as float64). Errors are agreed across
// ranks and name the file, the dataset and, for NaN or infinity, the global row and column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/block_distribution.hpp"
#include "engine/communicator.hpp"

namespace omniseg::io {

/// Where a matrix lives: an HDF5 file and a dataset path inside it.
struct MatrixSource {
  std::string file;
  std::string dataset;  ///< absolute, e.g. "/X"

  /// "FILE.h5:/X" -> {"FILE.h5", "/X"}. The split is at the last ":/", so file names may contain
  /// colons. `option` names the command-line option in the error for a malformed spec.
  static MatrixSource parse(std::string_view spec, std::string_view option);
  [[nodiscard]] std::string to_string() const { return file + ":" + dataset; }
};

/// This rank's rows of a row-sharded matrix, row-major.
struct MatrixBlock {
  std::uint64_t global_rows = 0;
  std::uint64_t columns = 0;
  engine::RowRange rows;       ///< the global rows held here
  std::vector<double> values;  ///< rows.size() × columns, row-major

  [[nodiscard]] std::uint64_t local_rows() const { return rows.size(); }
  [[nodiscard]] const double* row(std::uint64_t local_row) const { return values.data() + local_row * columns; }
};

/// Collective. Reads the block-distributed rows of `source` on every rank; throws the same error on
/// every rank for a missing file or dataset, a dataset that is not 2-D floating point, zero
/// columns, or a value that is NaN or infinite.
[[nodiscard]] MatrixBlock read_matrix_block(const engine::Communicator& comm, const MatrixSource& source);

/// Collective. The whole (small) matrix on every rank: initial centres and the like. Same checks.
[[nodiscard]] MatrixBlock read_whole_matrix(const engine::Communicator& comm, const MatrixSource& source);

}  // namespace omniseg::io
