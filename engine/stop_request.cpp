#include "engine/stop_request.hpp"

#include <csignal>

namespace omniseg::engine {

namespace {

volatile std::sig_atomic_t received_signal = 0;

extern "C" void remember_stop_signal(int signal) {
  if (received_signal == 0) received_signal = signal;
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = remember_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking calls (MPI progress, file I/O) carry on
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

int received_stop_signal() { return received_signal; }

int agreed_stop_signal(const Communicator& comm) {
  return comm.allreduce(static_cast<int>(received_signal), ReduceOp::max);
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    default: return "a stop signal";
  }
}

}  // namespace omniseg::engine
