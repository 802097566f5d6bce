// jobs/generate_command.hpp — `omniseg generate`: synthetic omnichannel input for the integration
// pipeline, its tests, the demo and the benchmarks.
//
// Parses the options, runs the generator (io/omnichannel_generator.hpp) on every rank, and prints
// one JSON summary line: the files with their row counts and expected rejects, the dirty rows
// planted and the wall time. Files and their schema: docs/formats.md, "Omnichannel input".
#pragma once

#include <CLI/App.hpp>
#include <string>

#include "io/omnichannel_generator.hpp"
#include "jobs/command_line.hpp"

namespace omniseg::jobs {

struct GenerateCommandOptions {
  std::string out;  ///< the output directory (created if missing)
  std::int64_t seed = 42;  ///< signed so that a negative seed is reported as such (exit code 3)
  io::OmnichannelOptions generator;
};

void add_generate_command(CLI::App& app, Selection& selection);

/// Collective.
void run_generate(const engine::Communicator& comm, const GenerateCommandOptions& options);

}  // namespace omniseg::jobs
