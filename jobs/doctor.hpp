// jobs/doctor.hpp — `omniseg doctor`: checks that this allocation can run omniseg.
//
// Reports the rank layout and library versions, checks every kind of collective (including the
// large-message paths) against references computed locally, checks that random draws keyed by
// global row are the same as on one rank, checks collective error agreement, and measures
// allreduce latency and all-to-all bandwidth. Prints a human report (log) and one JSON line
// (stdout). --fail-on-rank deliberately fails one rank to show how failures end a job.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <string>

#include "jobs/command_line.hpp"

namespace omniseg::jobs {

struct DoctorOptions {
  std::uint64_t random_rows = 1'000'000;            ///< rows in the random-draw check
  std::uint64_t alltoall_bytes = 32ULL << 20;       ///< bytes each rank sends per all-to-all
  int repetitions = 5;                              ///< timed repetitions (the median is reported)
  int fail_on_rank = -1;                            ///< deliberately fail this rank
  std::string fail_mode = "agreed";                 ///< "agreed" or "stuck" (see --help)
};

void add_doctor_command(CLI::App& app, Selection& selection);

/// Collective.
void run_doctor(const engine::Communicator& comm, const DoctorOptions& options);

}  // namespace omniseg::jobs
