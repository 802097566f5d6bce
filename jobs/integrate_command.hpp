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
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/reject_log.hpp"
#include "jobs/command_line.hpp"
#include "jobs/integrate_pipeline.hpp"

namespace omniseg::jobs {

struct IntegrateCommandOptions {
  std::string config;
  std::string output;  ///< overrides [output].directory
};

void add_integrate_command(CLI::App& app, Selection& selection);

/// The input accounting of the summary: per file read / joined / anonymous / rejected by reason.
[[nodiscard]] nlohmann::json accounting_json(const IntegrationResult& result);
/// Rank 0 logs the accounting table (other ranks log nothing).
void log_accounting(const IntegrationResult& result);
/// Collective: OUT/rejects.csv, every rejected record with its file, line and reason.
void write_rejects(const engine::Communicator& comm, const JobConfig& config, const std::filesystem::path& out,
                   std::vector<io::RejectRecord> rejects);

/// Collective.
void run_integrate(const engine::Communicator& comm, const IntegrateCommandOptions& options);

}  // namespace omniseg::jobs
