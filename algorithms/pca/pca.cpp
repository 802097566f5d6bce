#include "algorithms/pca/pca.hpp"

#include <fmt/format.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "algorithms/linalg/blas.hpp"
#include "algorithms/linalg/column_moments.hpp"
#include "engine/communicator_eigen.hpp"

namespace omniseg::pca {
namespace {

/// Where every rank's rows and chunks lie. Rank r holds rows [row_begin[r], row_begin[r + 1]) and
/// owns the chunks that start in them, [chunk_begin[r], chunk_begin[r + 1]) (none when no chunk
/// starts there, e.g. without rows): the owner computes their leaves, so every chunk is factorised
/// whole, by one rank, whatever the split.
struct ChunkLayout {
  std::uint64_t chunk_rows = 0;
  std::vector<std::uint64_t> row_begin;   // P + 1 entries, the last is n
  std::vector<std::int64_t> chunk_begin;  // P + 1 entries, the last is m = ceil(n / C)

  /// Collective: every rank's block, checked to be consecutive in rank order (the same verdict on
  /// every rank, so all throw together).
  static ChunkLayout of(const engine::Communicator& comm, const linalg::RowBlockView& data, std::int64_t chunk_rows) {
    if (chunk_rows < 1) throw std::invalid_argument("PCA: chunk_rows must be >= 1");
    const auto blocks = comm.allgather(std::vector<std::uint64_t>{data.first_global_row, data.local_rows});
    ChunkLayout layout;
    layout.chunk_rows = static_cast<std::uint64_t>(chunk_rows);
    layout.row_begin.push_back(0);
    for (int r = 0; r < comm.size(); ++r) {
      const std::size_t at = 2 * static_cast<std::size_t>(r);
      if (blocks[at] != layout.row_begin.back()) {
        throw std::invalid_argument("PCA: the ranks' rows must be consecutive blocks in rank order");
      }
      layout.row_begin.push_back(blocks[at] + blocks[at + 1]);
    }
    if (layout.row_begin.back() != data.global_rows) {
      throw std::invalid_argument("PCA: the ranks' rows do not add up to the matrix's rows");
    }
    for (const std::uint64_t row : layout.row_begin) {
      layout.chunk_begin.push_back(static_cast<std::int64_t>((row + layout.chunk_rows - 1) / layout.chunk_rows));
    }
    return layout;
  }

  /// The rank that owns chunk j: the last whose first chunk is <= j (ranks before it that share
  /// its first chunk own none).
  [[nodiscard]] int owner(std::int64_t chunk) const {
    const auto after = std::upper_bound(chunk_begin.begin(), chunk_begin.end() - 1, chunk);
    return static_cast<int>(after - chunk_begin.begin()) - 1;
  }
  /// First global row of chunk j (n for j = m).
  [[nodiscard]] std::uint64_t chunk_row(std::int64_t chunk) const {
    return std::min(static_cast<std::uint64_t>(chunk) * chunk_rows, row_begin.back());
  }
};

/// Moves the rows of chunks that straddle rank boundaries to the chunk's owner: this rank's rows
/// before its first chunk go to the owner of the chunk they belong to (fewer than C rows, one
/// destination); returns, in row order, the rows of this rank's last chunk that lie on the
/// following ranks.
std::vector<double> exchange_boundary_rows(const engine::Communicator& comm, const ChunkLayout& layout,
                                           const linalg::RowBlockView& data) {
  const auto rank = static_cast<std::size_t>(comm.rank());
  const std::uint64_t begin = layout.row_begin[rank], end = layout.row_begin[rank + 1];
  const std::uint64_t own_begin = std::max(begin, layout.chunk_row(layout.chunk_begin[rank]));
  const std::uint64_t foreign_rows = std::min(own_begin, end) - begin;
  std::vector<std::uint64_t> send_counts(static_cast<std::size_t>(comm.size()), 0);
  if (foreign_rows > 0) {
    const auto chunk = static_cast<std::int64_t>(begin / layout.chunk_rows);
    send_counts[static_cast<std::size_t>(layout.owner(chunk))] = foreign_rows * data.columns;
  }
  auto received = comm.alltoallv(data.values.first(foreign_rows * data.columns), send_counts);
  // A rank that owns chunks receives the rest of its last one; one that owns none receives nothing.
  const bool owns_chunks = layout.chunk_begin[rank] < layout.chunk_begin[rank + 1];
  const std::uint64_t own_end = owns_chunks ? std::max(end, layout.chunk_row(layout.chunk_begin[rank + 1])) : end;
  if (received.data.size() != (own_end - end) * data.columns) {
    throw std::logic_error("PCA: the boundary exchange did not bring the rows of this rank's last chunk");
  }
  return std::move(received.data);
}

/// The leaves of this rank's chunks, merged into the canonical nodes of its run of chunks. Whole
/// chunks are read in place; only the last one, when it straddles into the following ranks, is
/// assembled in a copy.
ChunkRun local_chunk_run(const engine::Communicator& comm, const ChunkLayout& layout,
                         const linalg::RowBlockView& data, std::span<const double> shift,
                         std::span<const double> scale, const QrBlocking& blocking) {
  const auto rank = static_cast<std::size_t>(comm.rank());
  const auto d = static_cast<std::int64_t>(data.columns);
  const std::vector<double> tail = exchange_boundary_rows(comm, layout, data);
  ChunkRun run = ChunkRun::empty(d, layout.chunk_begin[rank]);
  const std::int64_t first_chunk = layout.chunk_begin[rank], end_chunk = layout.chunk_begin[rank + 1];
  if (first_chunk == end_chunk) return run;
  ChunkFactoriser factoriser(d, blocking);
  const std::uint64_t begin = layout.row_begin[rank], end = layout.row_begin[rank + 1];
  const std::uint64_t own_begin = layout.chunk_row(first_chunk);
  // Rows [own_begin, in_place_end) are whole chunks held here.
  const std::uint64_t in_place_end = tail.empty() ? end : layout.chunk_row(end_chunk - 1);
  append_chunks(run, factoriser, data.row(own_begin - begin), static_cast<std::int64_t>(in_place_end - own_begin),
                shift, scale, blocking);
  if (!tail.empty()) {
    std::vector<double> last(data.row(in_place_end - begin), data.row(end - begin));
    last.insert(last.end(), tail.begin(), tail.end());
    append_chunks(run, factoriser, last.data(), static_cast<std::int64_t>(last.size() / data.columns), shift, scale,
                  blocking);
  }
  if (run.end_chunk != end_chunk) throw std::logic_error("PCA: a rank did not factorise exactly its chunks");
  return run;
}

/// The factors of a run, back to back in node order (the receiver knows the nodes from the range).
std::vector<double> flatten(const ChunkRun& run) {
  const auto expected = canonical_nodes(run.first_chunk, run.end_chunk);
  const bool canonical = std::equal(expected.begin(), expected.end(), run.nodes.begin(), run.nodes.end(),
                                    [](const TreeNode& a, const TreeNode& b) {
                                      return a.level == b.level && a.index == b.index;
                                    });
  if (!canonical) throw std::logic_error("PCA: a run of chunks is not in canonical form");
  std::vector<double> values;
  for (const auto& factor : run.factors) values.insert(values.end(), factor.values.begin(), factor.values.end());
  return values;
}

/// The run of all chunks [0, m), on rank 0 (other ranks return an empty run). Level k of the
/// binary tree over ranks: rank r with r mod 2^(k+1) == 2^k sends its run, the chunks of ranks
/// [r, r + 2^k), to r - 2^k and is done; the receiver appends it to its own, adjacent run. The
/// node values are the chunk tree's whatever P, so the shape of this tree does not show.
ChunkRun reduce_up_tree(const engine::Communicator& comm, ChunkRun run, const ChunkLayout& layout,
                        const QrBlocking& blocking) {
  const int rank = comm.rank();
  const std::int64_t order = run.order;
  for (int stride = 1; stride < comm.size(); stride *= 2) {
    if (rank % (2 * stride) == stride) {
      comm.send(flatten(run), rank - stride);
      return ChunkRun::empty(order, 0);
    }
    if (rank % (2 * stride) == 0 && rank + stride < comm.size()) {
      const auto first = layout.chunk_begin[static_cast<std::size_t>(rank + stride)];
      const auto end = layout.chunk_begin[static_cast<std::size_t>(std::min(rank + 2 * stride, comm.size()))];
      ChunkRun partner = ChunkRun::empty(order, first);
      partner.end_chunk = end;
      partner.nodes = canonical_nodes(first, end);
      const auto factor_size = static_cast<std::size_t>(order * order);
      std::vector<double> values(partner.nodes.size() * factor_size);
      comm.receive(std::span<double>(values), rank + stride);
      for (std::size_t k = 0; k < partner.nodes.size(); ++k) {
        const auto from = values.begin() + static_cast<std::ptrdiff_t>(k * factor_size);
        partner.factors.push_back({order, std::vector<double>(from, from + static_cast<std::ptrdiff_t>(factor_size))});
      }
      append_run(run, std::move(partner), blocking);
    }
  }
  return run;
}

struct Decomposition {
  Eigen::VectorXd singular_values;  // d, descending
  Eigen::MatrixXd axes;             // d × d, column i the right singular vector of value i
};

/// SVD of the final R: its singular values and right singular vectors are the centred data's.
/// Jacobi SVD: slow only for thousands of columns, and accurate to the last bits for the small
/// singular values of graded R factors.
Decomposition decompose(const TriangularFactor& r) {
  const Eigen::Map<const Eigen::MatrixXd> matrix(r.values.data(), r.order, r.order);
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(matrix, Eigen::ComputeFullV);
  return {svd.singularValues(), svd.matrixV()};
}

}  // namespace

void make_largest_entries_positive(std::vector<double>& matrix, std::size_t columns) {
  if (columns == 0) return;
  for (std::size_t first = 0; first < matrix.size(); first += columns) {
    const auto row = std::span<double>(matrix).subspan(first, columns);
    const auto largest = std::max_element(row.begin(), row.end(),
                                          [](double a, double b) { return std::abs(a) < std::abs(b); });
    if (*largest < 0) {
      for (double& value : row) value = -value;
    }
  }
}

PcaModel fit_pca(const engine::Communicator& comm, const linalg::RowBlockView& data, const PcaOptions& options,
                 engine::PhaseTimers& timers) {
  const std::uint64_t n = data.global_rows;
  const std::uint64_t d = data.columns;
  if (n < 2) throw std::invalid_argument(fmt::format("PCA needs at least 2 rows, the matrix has {}", n));
  if (options.components < 1 || options.components > std::min(n, d)) {
    throw std::invalid_argument(fmt::format("the number of components must lie in [1, min(rows, columns)] = [1, {}], "
                                            "got {}", std::min(n, d), options.components));
  }
  PcaModel model;
  model.rows = n;
  model.columns = d;
  {
    auto phase = timers.phase("pca moments");
    auto moments = linalg::exact_column_moments(comm, data, options.standardize);
    model.mean = std::move(moments.mean);
    model.scale = std::move(moments.scale);
  }
  ChunkLayout layout;
  ChunkRun run;
  {
    auto phase = timers.phase("pca local qr");
    layout = ChunkLayout::of(comm, data, options.blocking.chunk_rows);
    const std::vector<double> ones(d, 1.0);
    run = local_chunk_run(comm, layout, data, model.mean,
                          options.standardize ? std::span<const double>(model.scale) : ones, options.blocking);
  }
  Eigen::VectorXd singular_values;
  Eigen::MatrixXd axes;
  {
    auto phase = timers.phase("pca tree + svd");
    run = reduce_up_tree(comm, std::move(run), layout, options.blocking);
    if (comm.is_root()) {
      auto decomposition = decompose(root_factor(std::move(run), options.blocking));
      singular_values = std::move(decomposition.singular_values);
      axes = std::move(decomposition.axes);
    }
    engine::broadcast(comm, singular_values);
    engine::broadcast(comm, axes);
  }

  const auto q = static_cast<Eigen::Index>(options.components);
  const double degrees_of_freedom = static_cast<double>(n - 1);
  model.all_singular_values.assign(singular_values.data(), singular_values.data() + singular_values.size());
  for (const double s : model.all_singular_values) model.total_variance += s * s / degrees_of_freedom;
  model.components.resize(static_cast<std::size_t>(q) * d);
  for (Eigen::Index i = 0; i < q; ++i) {
    const double s = singular_values[i];
    model.singular_values.push_back(s);
    model.explained_variance.push_back(s * s / degrees_of_freedom);
    model.explained_variance_ratio.push_back(model.total_variance > 0 ? s * s / degrees_of_freedom / model.total_variance
                                                                      : 0.0);
    for (std::size_t j = 0; j < d; ++j) {
      model.components[static_cast<std::size_t>(i) * d + j] = axes(static_cast<Eigen::Index>(j), i);
    }
  }
  make_largest_entries_positive(model.components, d);
  return model;
}

std::vector<double> project(const linalg::RowBlockView& data, const PcaModel& model) {
  const std::size_t d = data.columns;
  const std::size_t q = model.components.size() / std::max<std::size_t>(d, 1);
  std::vector<double> projection(data.local_rows * q);
  if (data.local_rows == 0 || q == 0) return projection;
  // Tiles of GLOBAL rows, every GEMM of one shape (tile_rows × q × d): a row's projection depends
  // on the call's shape and its position in it (algorithms/linalg/blas.hpp), so this gives the
  // same bits on whichever rank holds the row. Rows of a tile held elsewhere are zero here.
  constexpr std::uint64_t tile_rows = 4096;  // centred copy stays in L2
  std::vector<double> centred(tile_rows * d), tile_projection(tile_rows * q);
  const std::uint64_t first_row = data.first_global_row, end_row = first_row + data.local_rows;
  for (std::uint64_t tile_begin = first_row / tile_rows * tile_rows; tile_begin < end_row; tile_begin += tile_rows) {
    const std::uint64_t begin = std::max(first_row, tile_begin), end = std::min(end_row, tile_begin + tile_rows);
    const std::uint64_t first = begin - tile_begin, last = end - tile_begin;  // positions within the tile
    std::fill(centred.begin(), centred.begin() + static_cast<std::ptrdiff_t>(first * d), 0.0);
    std::fill(centred.begin() + static_cast<std::ptrdiff_t>(last * d), centred.end(), 0.0);
    for (std::uint64_t i = first; i < last; ++i) {
      const double* x = data.row(tile_begin + i - first_row);
      for (std::size_t j = 0; j < d; ++j) {
        const double centred_value = x[j] - model.mean[j];
        centred[i * d + j] = model.scale.empty() ? centred_value : centred_value / model.scale[j];
      }
    }
    linalg::gemm_row_major(linalg::Op::none, linalg::Op::transpose, static_cast<std::int64_t>(tile_rows),
                           static_cast<std::int64_t>(q), static_cast<std::int64_t>(d), 1.0, centred.data(),
                           static_cast<std::int64_t>(d), model.components.data(), static_cast<std::int64_t>(d), 0.0,
                           tile_projection.data(), static_cast<std::int64_t>(q));
    std::copy(tile_projection.begin() + static_cast<std::ptrdiff_t>(first * q),
              tile_projection.begin() + static_cast<std::ptrdiff_t>(last * q),
              projection.begin() + static_cast<std::ptrdiff_t>((begin - first_row) * q));
  }
  return projection;
}

}  // namespace omniseg::pca
