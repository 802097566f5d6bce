// io/range_writer.hpp — writes byte ranges of an existing file, in pieces, through or around the
// page cache.
//
// Owns: getting a process's large blocks of bytes into a file fast.
// - Pieces. Every range is written in pieces of the staging size (1 MiB), never in one call: no
//   2 GiB-per-call limits, and on this project's VMs a single 100 MB write into the page cache ran
//   at 0.3-0.4 GB/s where 1 MiB writes of the same bytes ran at 5 GB/s (dd, after 10 s idle; inside
//   a job with gigabytes of fresh memory the page cache filled at 0.2-0.4 GB/s either way:
//   docs/benchmarks.md, "Checkpoint overhead").
// - The page cache, for files that are read back rarely (checkpoints: only after a failure). Caching
//   them buys nothing and takes node memory the job could use, so Mode::around_page_cache writes
//   with O_DIRECT. That needs the file offset, the length and the memory address aligned to the
//   device's block, so each range is split: the whole aligned blocks inside it go through an aligned
//   staging buffer with O_DIRECT, and the partial blocks at either end (shared with the neighbouring
//   bytes, which may belong to another rank or to HDF5's metadata) through the page cache, which
//   merges partial writes of one block correctly. A file system that refuses O_DIRECT (at open, or
//   EINVAL on the first write) gets everything through the page cache instead.
// Does not own: which ranges to write (io/hdf5.hpp, io/ordered_text.hpp place them), agreement
// between ranks.
//
// Not collective: each process writes its own ranges. Bytes outside the given ranges are never
// written, so processes may write disjoint ranges of one file at the same time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

namespace omniseg::io {

/// Which large writes go around the page cache: when `enabled`, those of at least
/// `min_bytes_per_rank` per rank on average. Smaller ones gain little from skipping the cache (they
/// were cheapest through it, docs/benchmarks.md) and, on a parallel file system, would lose
/// collective buffering. The same on every rank.
struct PageCacheBypass {
  bool enabled = false;
  std::uint64_t min_bytes_per_rank = std::uint64_t{4} << 20;

  /// Whether `total_bytes` written by `ranks` ranks together go around the cache.
  [[nodiscard]] bool applies_to(std::uint64_t total_bytes, int ranks) const {
    return enabled && total_bytes > 0 && total_bytes / static_cast<std::uint64_t>(ranks) >= min_bytes_per_rank;
  }
};

class RangeWriter {
 public:
  /// The alignment used for direct I/O: 4 KiB covers devices with 512-byte and 4 KiB blocks.
  static constexpr std::uint64_t block_bytes = 4096;
  /// Default staging buffer: large enough that a system call moves a lot, small enough that
  /// touching it for the first time costs little.
  static constexpr std::uint64_t default_staging_bytes = std::uint64_t{1} << 20;

  enum class Mode : std::uint8_t {
    around_page_cache,   ///< O_DIRECT for whole blocks, unless the file system refuses it
    through_page_cache,  ///< buffered writes only (files read back soon: results)
  };

  /// Opens the existing file `path` for writing. Throws Error naming the path when it cannot be
  /// opened. `staging_bytes` is rounded up to whole blocks.
  RangeWriter(std::filesystem::path path, Mode mode, std::uint64_t staging_bytes = default_staging_bytes);
  RangeWriter(const RangeWriter&) = delete;
  RangeWriter& operator=(const RangeWriter&) = delete;
  /// Closes the descriptors, ignoring errors (call close() to see them).
  ~RangeWriter();

  /// Writes `bytes` at `offset`, extending the file if needed. Throws Error naming the file, the
  /// offset and the system's reason (no space, file size limit, ...); bytes of this range may then
  /// be partly written.
  void write_at(std::uint64_t offset, std::span<const std::byte> bytes);

  /// Closes the file, throwing Error if the system reports a failure (some file systems report
  /// write errors only here). Idempotent.
  void close();

  /// Whether whole blocks still go around the page cache (false after the file system refused).
  [[nodiscard]] bool bypassing_page_cache() const { return direct_fd_ >= 0; }
  /// Bytes written around the page cache so far.
  [[nodiscard]] std::uint64_t direct_bytes() const { return direct_bytes_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  /// Whole blocks [offset, offset + bytes.size()) through the staging buffer with O_DIRECT.
  void write_direct(std::uint64_t offset, std::span<const std::byte> bytes);
  /// Through the page cache, in pieces of the staging size, retrying short writes.
  void write_buffered(std::uint64_t offset, std::span<const std::byte> bytes);
  /// Closes the direct descriptor: from now on everything goes through the page cache.
  void stop_direct();

  struct FreeAligned {
    void operator()(std::byte* memory) const noexcept;
  };

  std::filesystem::path path_;
  int buffered_fd_ = -1;
  int direct_fd_ = -1;
  std::uint64_t staging_bytes_;
  std::unique_ptr<std::byte, FreeAligned> staging_;  ///< allocated on first direct write
  std::uint64_t direct_bytes_ = 0;
};

}  // namespace omniseg::io
