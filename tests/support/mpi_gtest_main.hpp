// tests/support/mpi_gtest_main.hpp — what MPI tests get from the MPI-aware GoogleTest main.
#pragma once

#include "engine/communicator.hpp"

namespace omniseg::testing {

/// The communicator over all ranks of the test job (valid while tests run).
const engine::Communicator& world();

}  // namespace omniseg::testing
