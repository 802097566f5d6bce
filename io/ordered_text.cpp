#include "io/ordered_text.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <span>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "io/range_writer.hpp"

namespace omniseg::io {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw Error("cannot " + what + " '" + path + "': " + std::strerror(errno));
}

}  // namespace

void write_ordered_text(const engine::Communicator& comm, const std::string& path, std::string_view local_text,
                        const PageCacheBypass& bypass) {
  const std::string temporary = path + ".tmp";
  const std::uint64_t offset = comm.exclusive_prefix_sum(local_text.size());
  const bool around_cache =
      bypass.enabled &&
      bypass.applies_to(comm.allreduce(std::uint64_t{local_text.size()}, engine::ReduceOp::sum), comm.size());
  engine::collectively(comm, [&] {
    if (!comm.is_root()) return;
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("create", temporary);
    ::close(fd);
  });
  try {
    engine::collectively(comm, [&] {
      if (local_text.empty()) return;
      RangeWriter writer(temporary, around_cache ? RangeWriter::Mode::around_page_cache
                                                 : RangeWriter::Mode::through_page_cache);
      writer.write_at(offset, std::as_bytes(std::span(local_text)));
      writer.close();
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
