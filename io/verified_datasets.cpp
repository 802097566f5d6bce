#include "io/verified_datasets.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "engine/hash_partition.hpp"

namespace omniseg::io {

namespace {

/// One row's hash: the row index and length, then the row's bytes eight at a time (the last word
/// zero-padded), each folded in with a multiply-rotate step (one multiplication per word), then the
/// SplitMix64 finaliser so that every input bit reaches every output bit. Not cryptographic: it
/// catches corruption and misplaced rows, not an adversary.
std::uint64_t row_hash(std::uint64_t row, const std::byte* bytes, std::uint64_t length) {
  constexpr std::uint64_t multiplier = 0x9e3779b97f4a7c15ULL;
  std::uint64_t hash = (row * multiplier) ^ (length + 0x6f6d6e6973656721ULL);
  std::uint64_t offset = 0;
  for (; offset + 8 <= length; offset += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + offset, 8);
    hash = std::rotl(hash ^ word, 29) * multiplier;
  }
  if (offset < length) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes + offset, length - offset);
    hash = std::rotl(hash ^ word, 29) * multiplier;
  }
  return engine::mix64(hash);
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

std::string checksum_text(std::uint64_t checksum) { return fmt::format("xsum64v2:{:016x}", checksum); }

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

namespace {

/// `values` as 32-bit when every rank's fit (half the bytes to write), else as they are.
void write_narrowest(File& file, const std::string& path, std::span<const std::uint64_t> values) {
  std::uint64_t largest = 0;
  for (const std::uint64_t value : values) largest = std::max(largest, value);
  largest = file.communicator().allreduce(largest, engine::ReduceOp::max);
  if (largest > std::numeric_limits<std::uint32_t>::max()) {
    write_verified_rows(file, path, values, 1);
    return;
  }
  const std::vector<std::uint32_t> narrow(values.begin(), values.end());
  write_verified_rows(file, path, narrow, 1);
}

/// Rows of what write_narrowest wrote, widened to 64 bits (verified as stored).
std::vector<std::uint64_t> read_widened(const File& file, const std::string& path, engine::RowRange rows) {
  if (file.dataset_info(path).element_type != ElementType::uint32) {
    return read_verified_rows<std::uint64_t>(file, path, rows);
  }
  const auto narrow = read_verified_rows<std::uint32_t>(file, path, rows);
  return {narrow.begin(), narrow.end()};
}

}  // namespace

void write_verified_ragged(File& file, std::string_view group, std::span<const std::uint64_t> offsets,
                           std::span<const std::uint64_t> items) {
  std::vector<std::uint64_t> lengths(offsets.size() - 1);
  for (std::size_t i = 0; i < lengths.size(); ++i) lengths[i] = offsets[i + 1] - offsets[i];
  const std::string prefix(group);
  write_narrowest(file, prefix + "/lengths", lengths);
  write_narrowest(file, prefix + "/items", items.first(offsets.back()));
}

RaggedRows read_verified_ragged(const File& file, std::string_view group, engine::RowRange rows) {
  const std::string prefix(group);
  const auto lengths = read_widened(file, prefix + "/lengths", rows);
  RaggedRows ragged;
  ragged.offsets.reserve(lengths.size() + 1);
  for (const std::uint64_t length : lengths) ragged.offsets.push_back(ragged.offsets.back() + length);
  // The ranks' rows are consecutive in rank order, so their items are too.
  const std::uint64_t first_item = file.communicator().exclusive_prefix_sum(ragged.offsets.back());
  ragged.items = read_widened(file, prefix + "/items", {first_item, first_item + ragged.offsets.back()});
  return ragged;
}

std::vector<std::string> read_verified_strings(const File& file, std::string_view dataset_path) {
  std::vector<std::string> strings = file.read_strings(dataset_path);
  verify_checksum(file, dataset_path, local_strings_checksum(strings, 0));
  return strings;
}

}  // namespace omniseg::io
