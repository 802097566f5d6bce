#include "engine/error_agreement.hpp"

#include <spdlog/spdlog.h>

#include <boost/serialization/string.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "engine/mpi_handle.hpp"
#include "engine/serialized.hpp"

namespace omniseg::engine {
namespace {

/// What the lowest failed rank tells the others.
struct FailureReport {
  int origin_rank = 0;
  int exit_code = exit_codes::failure;
  std::string message;
  bool already_agreed = false;  ///< the message is a CollectiveError's, already worded for all

  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive & origin_rank & exit_code & message & already_agreed;
  }
};

FailureReport describe(std::exception_ptr failure, int rank) {
  try {
    std::rethrow_exception(failure);
  } catch (const CollectiveError& e) {
    return {e.origin_rank(), e.exit_code(), e.what(), true};
  } catch (const Error& e) {
    return {rank, e.exit_code(), e.what()};
  } catch (const std::exception& e) {
    return {rank, exit_codes::failure, e.what()};
  } catch (...) {
    return {rank, exit_codes::failure, "unknown exception"};
  }
}

/// "0, 3, 7" — at most the first eight, then "...".
std::string rank_list(const std::vector<int>& ranks) {
  constexpr std::size_t kShown = 8;
  std::string text;
  for (std::size_t i = 0; i < ranks.size() && i < kShown; ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  if (ranks.size() > kShown) text += ", ...";
  return text;
}

/// The message every rank ends with; it names the rank the report comes from.
std::string agreed_message(const FailureReport& report, const std::vector<int>& failed_ranks, int ranks) {
  // A requested stop is every rank's decision at the same safe point, not a failure.
  if (report.exit_code == exit_codes::stopped && failed_ranks.size() == static_cast<std::size_t>(ranks)) {
    return report.message;
  }
  if (ranks > 1 && failed_ranks.size() == static_cast<std::size_t>(ranks)) {
    return "every rank failed; rank " + std::to_string(report.origin_rank) + ": " + report.message;
  }
  std::string text = "rank " + std::to_string(report.origin_rank) + " failed: " + report.message;
  if (failed_ranks.size() > 1) {
    text += " (" + std::to_string(failed_ranks.size()) + " ranks failed: " + rank_list(failed_ranks) +
            "; showing the lowest)";
  }
  return text;
}

/// Completes `request`. A failed rank gives up after the grace period and aborts the job, since
/// its peers may be blocked in a collective it will never join.
void wait_or_abort(MPI_Request& request, const Communicator& comm, const FailureReport* local,
                   double grace_s) {
  if (local == nullptr) {
    check_mpi(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait");
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
  int done = 0;
  while (true) {
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  spdlog::critical("rank {} failed: {}", comm.rank(), local->message);
  spdlog::critical("rank {}: the other ranks did not reach the error agreement point within {} s "
                   "(they are blocked elsewhere); aborting the job with exit code {}",
                   comm.rank(), grace_s, local->exit_code);
  spdlog::default_logger()->flush();
  MPI_Abort(comm.handle().control, local->exit_code);
}

}  // namespace

void agree_on_failure(const Communicator& comm, std::exception_ptr local_failure,
                      const AgreementOptions& options) {
  MPI_Comm control = comm.handle().control;
  FailureReport local;
  if (local_failure) local = describe(local_failure, comm.rank());

  // Step 1: who failed? A non-blocking gather, so a failed rank can stop waiting.
  const int failed_here = local_failure ? 1 : 0;
  std::vector<int> failed_flags(static_cast<std::size_t>(comm.size()));
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Iallgather(&failed_here, 1, MPI_INT, failed_flags.data(), 1, MPI_INT, control, &request),
            "MPI_Iallgather");
  wait_or_abort(request, comm, local_failure ? &local : nullptr, options.failure_grace_s);

  std::vector<int> failed_ranks;
  for (int r = 0; r < comm.size(); ++r) {
    if (failed_flags[static_cast<std::size_t>(r)] != 0) failed_ranks.push_back(r);
  }
  if (failed_ranks.empty()) return;

  // Step 2: everyone is here; the lowest failed rank tells its story to all.
  const int reporter = failed_ranks.front();
  std::string bytes = comm.rank() == reporter ? to_archive(local) : std::string();
  std::uint64_t length = bytes.size();
  check_mpi(MPI_Bcast(&length, 1, MPI_UINT64_T, reporter, control), "MPI_Bcast");
  bytes.resize(length);
  check_mpi(MPI_Bcast(bytes.data(), static_cast<int>(length), MPI_CHAR, reporter, control), "MPI_Bcast");
  const auto report = from_archive<FailureReport>(bytes);

  const std::string message = report.already_agreed ? report.message : agreed_message(report, failed_ranks, comm.size());
  throw CollectiveError(message, report.exit_code, report.origin_rank, failed_ranks);
}

}  // namespace omniseg::engine
