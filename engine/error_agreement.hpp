// engine/error_agreement.hpp — turning one rank's exception into the same error on every rank.
//
// Owns: the agreement step. A rank that throws does not leave its peers waiting in the next
// collective: the failure is caught, every rank meets at an agreement point on a private channel,
// and each throws the same CollectiveError (message naming the failing rank, same exit code).
// If the peers never arrive — they are blocked in a collective the failed rank will not join —
// the failed rank waits `failure_grace_s`, prints its error and aborts the job: an error, never a
// hang.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "engine/communicator.hpp"
#include "engine/errors.hpp"

namespace omniseg::engine {

struct AgreementOptions {
  /// How long a failed rank waits for its peers at the agreement point before aborting the job.
  double failure_grace_s = 60.0;
};

/// Collective. `local_failure` is this rank's exception, or null. Returns normally if no rank
/// failed; otherwise throws the same CollectiveError on every rank.
void agree_on_failure(const Communicator& comm, std::exception_ptr local_failure,
                      const AgreementOptions& options = {});

/// Collective. Runs `body` on every rank and agrees on failure before returning its result.
template <class Body>
auto collectively(const Communicator& comm, Body&& body, const AgreementOptions& options = {})
    -> std::invoke_result_t<Body> {
  using Result = std::invoke_result_t<Body>;
  std::exception_ptr failure;
  try {
    if constexpr (std::is_void_v<Result>) {
      std::forward<Body>(body)();
      agree_on_failure(comm, nullptr, options);
      return;
    } else {
      Result result = std::forward<Body>(body)();
      agree_on_failure(comm, nullptr, options);
      return result;
    }
  } catch (const CollectiveError&) {
    throw;  // already agreed: every rank is throwing it now
  } catch (...) {
    failure = std::current_exception();
  }
  agree_on_failure(comm, failure, options);
  throw std::logic_error("collectively: agreement returned after a failure");  // unreachable
}

}  // namespace omniseg::engine
