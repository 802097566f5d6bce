#include "io/verified_datasets.hpp"

#include <fmt/format.h>

#include <cstring>

#include "engine/hash_partition.hpp"

namespace omniseg::io {

namespace {

/// One row's hash: its index, then its bytes eight at a time (the last word zero-padded), then its
/// length, each folded in through the SplitMix64 finaliser.
std::uint64_t row_hash(std::uint64_t row, const std::byte* bytes, std::uint64_t length) {
  std::uint64_t hash = engine::mix64(row ^ 0x6f6d6e6973656721ULL);
  std::uint64_t offset = 0;
  for (; offset + 8 <= length; offset += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + offset, 8);
    hash = engine::mix64(hash ^ word);
  }
  if (offset < length) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes + offset, length - offset);
    hash = engine::mix64(hash ^ word);
  }
  return engine::mix64(hash ^ length);
}

}  // namespace

std::uint64_t local_row_checksum(std::span<const std::byte> bytes, std::uint64_t row_bytes, std::uint64_t first_row) {
  std::uint64_t sum = 0;
  if (row_bytes == 0) return sum;
  const std::uint64_t rows = bytes.size() / row_bytes;
  for (std::uint64_t i = 0; i < rows; ++i) sum += row_hash(first_row + i, bytes.data() + i * row_bytes, row_bytes);
  return sum;
}

std::uint64_t local_strings_checksum(std::span<const std::string> strings, std::uint64_t first_row) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < strings.size(); ++i) {
    sum += row_hash(first_row + i, reinterpret_cast<const std::byte*>(strings[i].data()), strings[i].size());
  }
  return sum;
}

std::string checksum_text(std::uint64_t checksum) { return fmt::format("xsum64:{:016x}", checksum); }

void verify_checksum(const File& file, std::string_view dataset_path, std::uint64_t computed) {
  if (!file.has_attribute(dataset_path, checksum_attribute_name)) {
    throw Hdf5Error(fmt::format("{}: dataset {} has no checksum attribute", file.path(), dataset_path));
  }
  const std::string stored = file.read_string_attribute(dataset_path, checksum_attribute_name);
  if (stored != checksum_text(computed)) {
    throw Hdf5Error(fmt::format("{}: dataset {} does not match its checksum (stored {}, data {}): the file is corrupt",
                                file.path(), dataset_path, stored, checksum_text(computed)));
  }
}

namespace detail {
std::uint64_t global_checksum(const File& file, std::uint64_t local) {
  return file.communicator().allreduce(local, engine::ReduceOp::sum);
}
}  // namespace detail

void write_verified_root_strings(File& file, std::string_view dataset_path, std::span<const std::string> strings) {
  file.write_root_strings(dataset_path, strings);
  // Every rank knows only its own (rank 0: all) strings; the sum makes the value agree.
  const std::uint64_t local = file.communicator().is_root() ? local_strings_checksum(strings, 0) : 0;
  file.write_string_attribute(dataset_path, checksum_attribute_name,
                              checksum_text(detail::global_checksum(file, local)));
}

void write_verified_ragged(File& file, std::string_view group, std::span<const std::uint64_t> offsets,
                           std::span<const std::uint64_t> items) {
  std::vector<std::uint64_t> lengths(offsets.size() - 1);
  for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = offsets[i + 1] - offsets[i];
  const std::string prefix(group);
  write_verified_rows(file, prefix + "/lengths", lengths, 1);
  write_verified_rows(file, prefix + "/items", items.first(offsets.back()), 1);
}

RaggedRows read_verified_ragged(const File& file, std::string_view group, engine::RowRange rows) {
  const std::string prefix(group);
  const auto lengths = read_verified_rows<std::uint64_t>(file, prefix + "/lengths", rows);
  RaggedRows ragged;
  ragged.offsets.reserve(lengths.size() + 1);
  for (const std::uint64_t length : lengths) ragged.offsets.push_back(ragged.offsets.back() + length);
  // The ranks' rows are consecutive, so their items are too.
  const std::uint64_t first_item = file.communicator().exclusive_prefix_sum(ragged.offsets.back());
  ragged.items = read_verified_rows<std::uint64_t>(file, prefix + "/items",
                                                   {first_item, first_item + ragged.offsets.back()});
  return ragged;
}

std::vector<std::string> read_verified_strings(const File& file, std::string_view dataset_path) {
  std::vector<std::string> strings = file.read_strings(dataset_path);
  verify_checksum(file, dataset_path, local_strings_checksum(strings, 0));
  return strings;
}

}  // namespace omniseg::io
