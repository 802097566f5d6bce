// engine/errors.hpp — the error types every layer throws, each carrying the process exit code
// it should end with.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace omniseg {

/// Exit codes of the omniseg executable (documented in docs/building.md).
namespace exit_codes {
inline constexpr int success = 0;
inline constexpr int failure = 1;      ///< an unexpected error
inline constexpr int usage = 2;        ///< bad command line
inline constexpr int bad_input = 3;    ///< bad data or configuration
/// Stopped on request (SIGTERM or SIGUSR1, e.g. Slurm's preemption warning) after writing a
/// checkpoint: rerunning the same command resumes. EX_TEMPFAIL of sysexits.h; the sbatch script
/// requeues on it.
inline constexpr int stopped = 75;
}  // namespace exit_codes

/// An omniseg error: a message for the user plus the exit code it ends the job with.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, int exit_code = exit_codes::failure)
      : std::runtime_error(message), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

/// Bad input data or configuration; the message names the file, line or key.
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(message, exit_codes::bad_input) {}
};

/// Every rank stops at a safe point because one received a stop signal.
class StopRequested : public Error {
 public:
  explicit StopRequested(const std::string& message) : Error(message, exit_codes::stopped) {}
};

/// A failure on one or more ranks, agreed by all: every rank of the communicator throws the same
/// CollectiveError together (engine/error_agreement.hpp), and nothing else throws it.
class CollectiveError : public Error {
 public:
  CollectiveError(const std::string& message, int exit_code, int origin_rank, std::vector<int> failed_ranks)
      : Error(message, exit_code), origin_rank_(origin_rank), failed_ranks_(std::move(failed_ranks)) {}
  /// The lowest rank whose failure is reported.
  [[nodiscard]] int origin_rank() const { return origin_rank_; }
  /// Every rank that failed at the agreement point, ascending.
  [[nodiscard]] const std::vector<int>& failed_ranks() const { return failed_ranks_; }

 private:
  int origin_rank_;
  std::vector<int> failed_ranks_;
};

}  // namespace omniseg
