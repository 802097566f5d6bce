#include "engine/resources.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "engine/mpi_handle.hpp"

namespace omniseg::engine {

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

int ranks_on_this_node(const Communicator& comm) {
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(mpi_comm(comm), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node),
            "MPI_Comm_split_type");
  int size = comm.size();
  const int status = MPI_Comm_size(node, &size);
  MPI_Comm_free(&node);
  check_mpi(status, "MPI_Comm_size");
  return std::max(size, 1);
}

std::uint64_t peak_resident_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports kibibytes
}

void keep_freed_memory_for_reuse() {
  mallopt(M_MMAP_MAX, 0);         // every block from the heap, so a freed one can be handed out again
  mallopt(M_TRIM_THRESHOLD, -1);  // and never give the heap's top back to the kernel
}

}  // namespace omniseg::engine
