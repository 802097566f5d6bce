// jobs/integrate_command.hpp — `omniseg integrate`: the channels' exports → one customer view.
//
// Reads JOB.toml (jobs/job_config.hpp), runs the integration stages (jobs/integrate_pipeline.hpp)
// and writes, in the output directory: features.h5 (/customers/id, /features/matrix,
// /features/names), features.csv, baskets.dat (FIMI), rejects.csv and summary.json (the input
// accounting, the joins, per-phase times, peak memory per rank). Every file is written by all
// ranks at once and appears atomically; features.csv and baskets.dat are the same bytes on any
// number of ranks. Prints one JSON summary line on stdout. Layout: docs/formats.md.
#pragma once

#include <CLI/App.hpp>
#include <string>

#include "jobs/command_line.hpp"

namespace omniseg::jobs {

struct IntegrateCommandOptions {
  std::string config;
  std::string output;  ///< overrides [output].directory
};

void add_integrate_command(CLI::App& app, Selection& selection);

/// Collective.
void run_integrate(const engine::Communicator& comm, const IntegrateCommandOptions& options);

}  // namespace omniseg::jobs
