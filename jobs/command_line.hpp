// jobs/command_line.hpp — the `omniseg` command line: global options and subcommands (CLI11).
//
// Owns: parsing (identical on every rank, since every rank sees the same argv), printing help and
// usage errors once (rank 0), running the chosen subcommand collectively and turning any failure
// into one agreed message and exit code. A subcommand is added with one `add_*_command` function
// (see jobs/doctor.hpp) and one line in command_line.cpp.
#pragma once

#include <CLI/App.hpp>
#include <functional>

#include "engine/communicator.hpp"
#include "engine/logging.hpp"

namespace omniseg::jobs {

/// Options every subcommand shares.
struct GlobalOptions {
  engine::LogOptions log;
  double failure_grace_s = 60.0;  ///< how long a failed rank waits for its peers before aborting
};

/// What parsing selected: the subcommand to run, collectively, on all ranks.
struct Selection {
  std::function<void(const engine::Communicator&, const GlobalOptions&)> run;
};

/// `--bypass-page-cache true|false` on a subcommand that writes large outputs (io::PageCacheBypass;
/// docs/formats.md).
void add_bypass_page_cache_option(CLI::App& command, bool& bypass);

/// Parses and runs; returns the process exit code (the same on every rank).
int run_command_line(const engine::Communicator& world, int argc, char** argv);

}  // namespace omniseg::jobs
