#include "io/ordered_text.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"

namespace omniseg::io {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw Error("cannot " + what + " '" + path + "': " + std::strerror(errno));
}

/// Writes all of `text` at `offset`, retrying short writes.
void write_all_at(int fd, std::string_view text, std::uint64_t offset, const std::string& path) {
  while (!text.empty()) {
    const ssize_t written = ::pwrite(fd, text.data(), text.size(), static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      fail("write", path);
    }
    text.remove_prefix(static_cast<std::size_t>(written));
    offset += static_cast<std::uint64_t>(written);
  }
}

}  // namespace

void write_ordered_text(const engine::Communicator& comm, const std::string& path, std::string_view local_text) {
  const std::string temporary = path + ".tmp";
  const std::uint64_t offset = comm.exclusive_prefix_sum(local_text.size());
  engine::collectively(comm, [&] {
    if (!comm.is_root()) return;
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("create", temporary);
    ::close(fd);
  });
  try {
    engine::collectively(comm, [&] {
      if (local_text.empty()) return;
      const int fd = ::open(temporary.c_str(), O_WRONLY);
      if (fd < 0) fail("open", temporary);
      try {
        write_all_at(fd, local_text, offset, temporary);
      } catch (...) {
        ::close(fd);
        throw;
      }
      if (::close(fd) != 0) fail("close", temporary);
    });
    engine::collectively(comm, [&] {
      if (comm.is_root() && std::rename(temporary.c_str(), path.c_str()) != 0) fail("rename to", path);
    });
  } catch (const CollectiveError&) {
    if (comm.is_root()) std::remove(temporary.c_str());  // never leave a half-written file behind
    throw;
  }
}

}  // namespace omniseg::io
