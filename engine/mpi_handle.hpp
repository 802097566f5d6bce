// engine/mpi_handle.hpp — the one doorway from a Communicator to its raw MPI communicator.
//
// Only engine/ sources and the HDF5 MPI-IO file-access property in io/ may include this header:
// everything else speaks to MPI through engine::Communicator.
#pragma once

#include <mpi.h>

#include "engine/communicator.hpp"

namespace omniseg::engine {

/// Owns two communicators over the same processes: `comm` carries the collectives, `control`
/// only error agreement, so an agreement can never match a half-finished collective.
struct Communicator::Handle {
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm control = MPI_COMM_NULL;

  /// Takes ownership of `owned` and duplicates it for the control channel (collective).
  explicit Handle(MPI_Comm owned);
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
};

/// The MPI communicator behind `comm` (still owned by `comm`).
inline MPI_Comm mpi_comm(const Communicator& comm) { return comm.handle().comm; }

/// Throws std::runtime_error naming `call` and MPI's error text when `return_code` is not MPI_SUCCESS.
void check_mpi(int return_code, const char* call);

}  // namespace omniseg::engine
