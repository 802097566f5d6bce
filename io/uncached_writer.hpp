// io/uncached_writer.hpp — writes byte ranges of an existing file around the page cache (O_DIRECT).
//
// Owns: getting large blocks of bytes to the file system without copying them into the kernel's
// page cache. Checkpoints are written once and read back only after a failure, so caching them
// buys nothing, and it costs: every cached page is node memory the job could use, and filling it
// is a copy whose speed depends on where the kernel finds the pages (on this project's VMs one
// 45 MB buffered write, as MPI-IO issues per rank, ran at 0.25-0.4 GB/s; docs/benchmarks.md).
// Direct I/O moves the bytes from user memory to the device instead (~2 GB/s there). It needs the
// file offset, the length and the memory address aligned to the
// device's block, so each range is split: the whole aligned blocks inside it go through an aligned
// staging buffer with O_DIRECT, and the partial blocks at either end (shared with the neighbouring
// bytes, which may belong to another rank or to HDF5's metadata) are written through the page
// cache, which merges partial writes of one block correctly. A file system that refuses O_DIRECT
// (at open, or EINVAL on the first write) gets everything through the page cache instead.
// Does not own: which ranges to write (io/hdf5.hpp places them), agreement between ranks.
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

class UncachedWriter {
 public:
  /// The alignment used for direct I/O: 4 KiB covers devices with 512-byte and 4 KiB blocks.
  static constexpr std::uint64_t block_bytes = 4096;
  /// Default staging buffer: large enough that a system call moves a lot, small enough that
  /// touching it for the first time costs little.
  static constexpr std::uint64_t default_staging_bytes = std::uint64_t{1} << 20;

  enum class Mode : std::uint8_t {
    direct_where_possible,  ///< O_DIRECT for whole blocks, unless the file system refuses it
    page_cache_only,        ///< plain buffered writes (for comparison, and a user's escape hatch)
  };

  /// Opens the existing file `path` for writing. Throws Error naming the path when it cannot be
  /// opened. `staging_bytes` is rounded up to whole blocks.
  explicit UncachedWriter(std::filesystem::path path, Mode mode = Mode::direct_where_possible,
                          std::uint64_t staging_bytes = default_staging_bytes);
  UncachedWriter(const UncachedWriter&) = delete;
  UncachedWriter& operator=(const UncachedWriter&) = delete;
  /// Closes the descriptors, ignoring errors (call close() to see them).
  ~UncachedWriter();

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
