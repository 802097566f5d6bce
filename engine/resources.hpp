// engine/resources.hpp — what this process has used (peak resident memory) and what its node has
// (physical memory, ranks sharing it).
#pragma once

#include <cstdint>

#include "engine/communicator.hpp"

namespace omniseg::engine {

/// Physical memory of this node in bytes (0 when the system does not say). Not collective.
std::uint64_t physical_memory_bytes();

/// Collective: how many ranks of `comm` share this rank's node (MPI's shared-memory split), >= 1.
int ranks_on_this_node(const Communicator& comm);

/// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
std::uint64_t peak_resident_bytes();

/// Makes the C allocator keep freed memory for the next allocation instead of handing it back to
/// the kernel. Large buffers (shards of text, join rows, shuffle rounds) come and go phase after
/// phase; by default glibc serves each from fresh mmap'ed pages, and on the VMs omniseg is
/// developed on first-touch page faults run at only 1-2.5 GB/s, so re-faulting them cost a third
/// of the integration job. Call once, first thing in main. The price: freed memory is not returned
/// before exit, and a heap cannot always fit a new buffer into old holes, so peak RSS can grow
/// (3.6 -> 4.3 GB per rank on the 20M-line integration benchmark, which ran 30% faster).
void keep_freed_memory_for_reuse();

}  // namespace omniseg::engine
