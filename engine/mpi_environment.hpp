// engine/mpi_environment.hpp — MPI start-up and shut-down as one RAII object.
//
// Owns: MPI_Init_thread / MPI_Finalize for the process. Create exactly one, first thing in main(),
// and let every Communicator die before it does.
#pragma once

#include <string>

namespace omniseg::engine {

class MpiEnvironment {
 public:
  MpiEnvironment(int& argc, char**& argv);
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;
  ~MpiEnvironment();

  /// "funneled", "serialized" or "multiple": what the MPI library granted.
  [[nodiscard]] std::string thread_support() const;
  /// The MPI library's own version string (first line), e.g. "Open MPI v4.1.4, ...".
  [[nodiscard]] static std::string library_version();

 private:
  int provided_thread_level_ = 0;
};

}  // namespace omniseg::engine
