// engine/stop_request.hpp — a stop asked for by a signal, agreed by every rank at a safe point.
//
// Owns: the signal handlers for SIGTERM and SIGUSR1 (Slurm's preemption or time-limit warning,
// forwarded by srun to every task, or sent by a user to one rank) and the agreement. A handler only
// sets a flag (all a handler may safely do); the job polls at its safe points — between stages, after
// a K-means iteration — with one allreduce, so every rank sees the same answer at the same point and
// they stop together, after a checkpoint, instead of one rank dying inside a collective.
// Does not own: what a stop does (jobs/: checkpoint, then exit code 75).
#pragma once

#include "engine/communicator.hpp"

namespace omniseg::engine {

/// Not collective. Installs the handlers (idempotent). Until then the signals keep their default
/// action (termination), which is what commands without safe points want.
void install_stop_signal_handlers();

/// Not collective: the signal this process received (SIGTERM or SIGUSR1; the first one), or 0.
[[nodiscard]] int received_stop_signal();

/// Collective: the stop signal any rank received (the largest number when several did), or 0 on
/// every rank when none did. One allreduce of an int: cheap enough for every iteration.
[[nodiscard]] int agreed_stop_signal(const Communicator& comm);

/// "SIGUSR1", "SIGTERM", or the number.
[[nodiscard]] const char* signal_name(int signal);

}  // namespace omniseg::engine
