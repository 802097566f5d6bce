#include "io/range_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include <fmt/format.h>

#include "engine/errors.hpp"

namespace omniseg::io {

namespace {

std::uint64_t round_down(std::uint64_t value) { return value / RangeWriter::block_bytes * RangeWriter::block_bytes; }
std::uint64_t round_up(std::uint64_t value) { return round_down(value + RangeWriter::block_bytes - 1); }

/// pwrite until every byte is written; returns 0 or the errno of the failed call.
int write_fully(int fd, const std::byte* bytes, std::uint64_t count, std::uint64_t offset) {
  while (count > 0) {
    const ssize_t written = ::pwrite(fd, bytes, count, static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (written == 0) return EIO;  // no progress and no reason: do not spin
    bytes += written;
    count -= static_cast<std::uint64_t>(written);
    offset += static_cast<std::uint64_t>(written);
  }
  return 0;
}

[[noreturn]] void throw_write_error(const std::filesystem::path& path, std::uint64_t offset, std::uint64_t count,
                                    int error) {
  throw Error(fmt::format("cannot write {} bytes at offset {} of '{}': {}", count, offset, path.string(),
                          std::strerror(error)));
}

}  // namespace

void RangeWriter::FreeAligned::operator()(std::byte* memory) const noexcept { std::free(memory); }

RangeWriter::RangeWriter(std::filesystem::path path, Mode mode, std::uint64_t staging_bytes)
    : path_(std::move(path)), staging_bytes_(std::max(block_bytes, round_up(staging_bytes))) {
  buffered_fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (buffered_fd_ < 0) {
    throw Error(fmt::format("cannot open '{}' for writing: {}", path_.string(), std::strerror(errno)));
  }
  // A file system without direct I/O refuses the flag here (or, on some, at the first write).
  if (mode == Mode::around_page_cache) direct_fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_DIRECT);
}

RangeWriter::~RangeWriter() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (buffered_fd_ >= 0) ::close(buffered_fd_);
}

void RangeWriter::close() {
  const int direct = std::exchange(direct_fd_, -1);
  const int buffered = std::exchange(buffered_fd_, -1);
  const bool direct_failed = direct >= 0 && ::close(direct) != 0;
  const int direct_error = errno;
  const bool buffered_failed = buffered >= 0 && ::close(buffered) != 0;
  if (direct_failed || buffered_failed) {
    throw Error(fmt::format("closing '{}' after writing failed: {}", path_.string(),
                            std::strerror(buffered_failed ? errno : direct_error)));
  }
}

void RangeWriter::stop_direct() {
  if (direct_fd_ >= 0) ::close(std::exchange(direct_fd_, -1));
}

void RangeWriter::write_at(std::uint64_t offset, std::span<const std::byte> bytes) {
  if (buffered_fd_ < 0) throw Error(fmt::format("'{}' is closed: cannot write to it", path_.string()));
  const std::uint64_t end = offset + bytes.size();
  // [offset, body_begin) and [body_end, end) are partial blocks; [body_begin, body_end) whole ones.
  const std::uint64_t body_begin = std::min(round_up(offset), end);
  const std::uint64_t body_end = std::max(round_down(end), body_begin);
  const auto piece = [&](std::uint64_t from, std::uint64_t to) { return bytes.subspan(from - offset, to - from); };
  if (body_begin > offset) write_buffered(offset, piece(offset, body_begin));
  if (body_end > body_begin) {
    if (direct_fd_ >= 0) {
      write_direct(body_begin, piece(body_begin, body_end));
    } else {
      write_buffered(body_begin, piece(body_begin, body_end));
    }
  }
  if (end > body_end) write_buffered(body_end, piece(body_end, end));
}

void RangeWriter::write_direct(std::uint64_t offset, std::span<const std::byte> bytes) {
  if (!staging_) {
    staging_.reset(static_cast<std::byte*>(std::aligned_alloc(block_bytes, staging_bytes_)));
    if (!staging_) throw std::bad_alloc();
  }
  std::uint64_t done = 0;
  while (done < bytes.size()) {
    // The caller's memory is not block-aligned; O_DIRECT needs it to be, hence the staging copy.
    const std::uint64_t count = std::min<std::uint64_t>(staging_bytes_, bytes.size() - done);
    std::memcpy(staging_.get(), bytes.data() + done, count);
    const int error = write_fully(direct_fd_, staging_.get(), count, offset + done);
    if (error == EINVAL && direct_bytes_ == 0) {
      // The file system accepted O_DIRECT at open but not these writes: use the page cache.
      stop_direct();
      write_buffered(offset + done, bytes.subspan(done));
      return;
    }
    if (error != 0) throw_write_error(path_, offset + done, count, error);
    done += count;
    direct_bytes_ += count;
  }
}

void RangeWriter::write_buffered(std::uint64_t offset, std::span<const std::byte> bytes) {
  // In pieces of the staging size (the header says why).
  for (std::uint64_t done = 0; done < bytes.size(); done += staging_bytes_) {
    const std::uint64_t count = std::min<std::uint64_t>(staging_bytes_, bytes.size() - done);
    const int error = write_fully(buffered_fd_, bytes.data() + done, count, offset + done);
    if (error != 0) throw_write_error(path_, offset + done, count, error);
  }
}

}  // namespace omniseg::io
