#include "engine/mpi_environment.hpp"

#include <mpi.h>

#include <cctype>
#include <stdexcept>

#include "engine/mpi_handle.hpp"

namespace omniseg::engine {

MpiEnvironment::MpiEnvironment(int& argc, char**& argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) throw std::logic_error("MpiEnvironment: MPI is already initialised");
  // Only the main thread calls MPI (worker threads, if any, compute).
  check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided_thread_level_),
            "MPI_Init_thread");
}

MpiEnvironment::~MpiEnvironment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

std::string MpiEnvironment::thread_support() const {
  switch (provided_thread_level_) {
    case MPI_THREAD_SINGLE: return "single";
    case MPI_THREAD_FUNNELED: return "funneled";
    case MPI_THREAD_SERIALIZED: return "serialized";
    case MPI_THREAD_MULTIPLE: return "multiple";
    default: return "unknown";
  }
}

std::string MpiEnvironment::library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<std::size_t>(length));
  // The length counts the terminating NUL; keep the first line without trailing blanks.
  if (auto newline = version.find('\n'); newline != std::string::npos) version.resize(newline);
  while (!version.empty() && (version.back() == '\0' || std::isspace(static_cast<unsigned char>(version.back())))) {
    version.pop_back();
  }
  return version;
}

}  // namespace omniseg::engine
