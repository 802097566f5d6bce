// The omniseg executable: MPI up, the command line, MPI down.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <exception>

#include "engine/communicator.hpp"
#include "engine/errors.hpp"
#include "engine/mpi_environment.hpp"
#include "engine/resources.hpp"
#include "io/hdf5.hpp"
#include "jobs/command_line.hpp"

int main(int argc, char** argv) {
  omniseg::engine::keep_freed_memory_for_reuse();
  // A write beyond `ulimit -f` then fails with EFBIG, which the writer reports (naming the file)
  // and the atomic-file protocol survives, instead of SIGXFSZ killing one rank mid-collective.
  std::signal(SIGXFSZ, SIG_IGN);
  omniseg::engine::MpiEnvironment mpi(argc, argv);
  int exit_code = omniseg::exit_codes::failure;
  {
    auto world = omniseg::engine::Communicator::world();
    try {
      exit_code = omniseg::jobs::run_command_line(world, argc, argv);
    } catch (const std::exception& e) {
      // Last resort: an error outside any agreement point. Peers may be blocked in a collective,
      // so end the whole job rather than leave it hanging.
      spdlog::critical("rank {}: unrecoverable error: {}", world.rank(), e.what());
      world.abort(omniseg::exit_codes::failure);
    }
  }
  if (omniseg::io::file_close_failed()) {
    // Every rank has agreed on the error and reported it; HDF5's clean-up inside MPI's shutdown would
    // crash on the file it failed to close (io/hdf5.hpp), so end here with the agreed exit code.
    spdlog::shutdown();
    std::_Exit(exit_code);
  }
  return exit_code;
}
