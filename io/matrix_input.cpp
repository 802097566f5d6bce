#include "io/matrix_input.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "io/hdf5.hpp"

namespace omniseg::io {
namespace {

/// The shape of `source`'s dataset after the checks every matrix input must pass.
DatasetInfo checked_shape(const File& file, const MatrixSource& source) {
  if (!file.exists(source.dataset)) {
    throw InputError(fmt::format("{}: the file has no dataset '{}'", source.to_string(), source.dataset));
  }
  const DatasetInfo info = file.dataset_info(source.dataset);
  if (info.rank() != 2) {
    throw InputError(fmt::format("{}: the dataset must be a 2-D matrix (rows × columns), but it has {} dimension{}",
                                 source.to_string(), info.rank(), info.rank() == 1 ? "" : "s"));
  }
  if (info.element_type != ElementType::float32 && info.element_type != ElementType::float64) {
    throw InputError(fmt::format("{}: the dataset must hold float32 or float64 values, not {}", source.to_string(),
                                 to_string(info.element_type)));
  }
  if (info.columns() == 0) throw InputError(fmt::format("{}: the matrix has no columns", source.to_string()));
  return info;
}

/// Throws for the first NaN or infinity, naming its global row and column.
void check_finite(const MatrixBlock& block, const MatrixSource& source) {
  for (std::size_t i = 0; i < block.values.size(); ++i) {
    if (std::isfinite(block.values[i])) continue;
    const std::uint64_t row = block.rows.begin + i / block.columns;
    const std::uint64_t column = i % block.columns;
    throw InputError(fmt::format("{}: row {} column {} is {} (0-based); the input must be finite",
                                 source.to_string(), row, column, block.values[i]));
  }
}

MatrixBlock read_rows(const engine::Communicator& comm, const MatrixSource& source, bool whole) {
  const File file = engine::collectively(comm, [&] {
    // A missing input is the user's mistake (exit code 3), not an HDF5 failure.
    if (!std::filesystem::exists(source.file)) {
      throw InputError(fmt::format("{}: no such file '{}'", source.to_string(), source.file));
    }
    return File::open_read(comm, source.file);
  });
  return engine::collectively(comm, [&] {
    const DatasetInfo info = checked_shape(file, source);
    MatrixBlock block;
    block.global_rows = info.rows();
    block.columns = info.columns();
    block.rows = whole ? engine::RowRange{0, info.rows()}
                       : engine::BlockDistribution(info.rows(), comm.size()).range(comm.rank());
    block.values = file.read_matrix_rows<double>(source.dataset, block.rows);
    check_finite(block, source);
    return block;
  });
}

}  // namespace

MatrixSource MatrixSource::parse(std::string_view spec, std::string_view option) {
  const auto split = spec.rfind(":/");
  if (split == std::string_view::npos || split == 0 || split + 2 == spec.size()) {
    throw InputError(fmt::format("{} '{}' must name an HDF5 file and a dataset in it, like data.h5:/X", option, spec));
  }
  return {std::string(spec.substr(0, split)), std::string(spec.substr(split + 1))};
}

MatrixBlock read_matrix_block(const engine::Communicator& comm, const MatrixSource& source) {
  return read_rows(comm, source, /*whole=*/false);
}

MatrixBlock read_whole_matrix(const engine::Communicator& comm, const MatrixSource& source) {
  return read_rows(comm, source, /*whole=*/true);
}

}  // namespace omniseg::io
