// io/verified_datasets.hpp — HDF5 datasets that carry a checksum of their contents, for files that
// must be trusted when read back (checkpoints).
//
// Owns: the checksum and its attribute. The checksum of a dataset is the sum, modulo 2^64, of one
// 64-bit hash per row, each hash a function of the row's global index and its bytes. A sum is
// indifferent to which rank holds which rows, so a file written on P ranks verifies when read back on
// any other number of ranks in any split, with one allreduce and no data movement; and because the
// row index enters each hash, rows swapped or shifted do not cancel out. The value is stored as the
// dataset's string attribute `checksum` ("xsum64v2:" and 16 hex digits).
// Does not own: which datasets a file has (the callers), the file protocol (io/hdf5.hpp).
//
// Values are checksummed as the C++ type that writes them, so read with the same type. Every
// function is collective over the file's communicator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/hdf5.hpp"

namespace omniseg::io {

inline constexpr std::string_view checksum_attribute_name = "checksum";

/// Pure: Σ_i hash(first_row + i, bytes of row i) over the `bytes.size() / row_bytes` rows in `bytes`.
[[nodiscard]] std::uint64_t local_row_checksum(std::span<const std::byte> bytes, std::uint64_t row_bytes,
                                               std::uint64_t first_row);
/// Pure: the same over strings, row i being `strings[i]`'s bytes.
[[nodiscard]] std::uint64_t local_strings_checksum(std::span<const std::string> strings, std::uint64_t first_row);

/// "xsum64v2:00000000deadbeef".
[[nodiscard]] std::string checksum_text(std::uint64_t checksum);

/// Not collective: throws Hdf5Error naming the file and dataset when the checksum of what was read
/// (`computed`, over the whole dataset) is not the stored one, or when none is stored.
void verify_checksum(const File& file, std::string_view dataset_path, std::uint64_t computed);

namespace detail {
/// Every rank's local checksum summed over the file's communicator.
[[nodiscard]] std::uint64_t global_checksum(const File& file, std::uint64_t local);
}  // namespace detail

/// Each rank writes its own rows (as File::write_vector_rows with columns == 1 written 1-D, else as
/// write_matrix_rows) and the dataset gets its checksum.
template <Hdf5NumberRange R>
void write_verified_rows(File& file, std::string_view dataset_path, const R& local_values, std::uint64_t columns) {
  using T = range_number_t<R>;
  const std::span<const T> values(std::ranges::data(local_values), std::ranges::size(local_values));
  const WriteReport report = columns == 1 ? file.write_vector_rows(dataset_path, values)
                                          : file.write_matrix_rows(dataset_path, values, columns);
  const std::uint64_t local = local_row_checksum(std::as_bytes(values), columns * sizeof(T), report.first_row);
  file.write_string_attribute(dataset_path, checksum_attribute_name,
                              checksum_text(detail::global_checksum(file, local)));
}

/// A small dataset only rank 0 provides (others pass an empty range), 1-D when columns == 1.
template <Hdf5NumberRange R>
void write_verified_root(File& file, std::string_view dataset_path, const R& values, std::uint64_t columns = 1) {
  using T = range_number_t<R>;
  const bool root = file.communicator().is_root();
  const std::span<const T> mine = root ? std::span<const T>(std::ranges::data(values), std::ranges::size(values))
                                       : std::span<const T>();
  write_verified_rows(file, dataset_path, mine, columns);
}

/// Rank 0's strings as a 1-D string dataset, with its checksum.
void write_verified_root_strings(File& file, std::string_view dataset_path, std::span<const std::string> strings);

/// Rows [rows.begin, rows.end) of a 1-D or 2-D dataset, row-major. The ranges of all ranks must
/// partition the dataset (each row read by exactly one rank): the checksum is verified over the
/// whole dataset, and a mismatch is the same Hdf5Error on every rank.
template <Hdf5Number T>
[[nodiscard]] std::vector<T> read_verified_rows(const File& file, std::string_view dataset_path, engine::RowRange rows) {
  const DatasetInfo info = file.dataset_info(dataset_path);
  std::vector<T> values = info.rank() == 2 ? file.read_matrix_rows<T>(dataset_path, rows)
                                           : file.read_vector_rows<T>(dataset_path, rows);
  const std::uint64_t local =
      local_row_checksum(std::as_bytes(std::span<const T>(values)), info.columns() * sizeof(T), rows.begin);
  verify_checksum(file, dataset_path, detail::global_checksum(file, local));
  return values;
}

/// The whole dataset on every rank, verified on every rank.
template <Hdf5Number T>
[[nodiscard]] std::vector<T> read_verified_whole(const File& file, std::string_view dataset_path) {
  const DatasetInfo info = file.dataset_info(dataset_path);
  std::vector<T> values = info.rank() == 2 ? file.read_matrix<T>(dataset_path) : file.read_vector<T>(dataset_path);
  verify_checksum(file, dataset_path,
                  local_row_checksum(std::as_bytes(std::span<const T>(values)), info.columns() * sizeof(T), 0));
  return values;
}

/// Rows of varying length (transactions, itemsets): row i is items[offsets[i], offsets[i+1]).
struct RaggedRows {
  std::vector<std::uint64_t> offsets{0};
  std::vector<std::uint64_t> items;
};

/// Each rank writes its own rows as two verified datasets, `<group>/lengths` (one per row) and
/// `<group>/items` (all rows' items, back to back), each stored as uint32 when all its values fit
/// (half the bytes), else uint64. `offsets` has rows + 1 entries, offsets[0] = 0.
void write_verified_ragged(File& file, std::string_view group, std::span<const std::uint64_t> offsets,
                           std::span<const std::uint64_t> items);

/// Rows [rows.begin, rows.end) of what write_verified_ragged wrote; the ranges of all ranks must
/// partition the rows (as read_verified_rows).
[[nodiscard]] RaggedRows read_verified_ragged(const File& file, std::string_view group, engine::RowRange rows);

/// A whole string dataset on every rank, verified.
[[nodiscard]] std::vector<std::string> read_verified_strings(const File& file, std::string_view dataset_path);

}  // namespace omniseg::io
