// jobs/run_command.hpp — `omniseg run`: the segmentation job from the channels' exports to segments
// and rules.
//
// Reads JOB.toml (jobs/job_config.hpp), integrates the inputs (jobs/integrate_pipeline.hpp),
// segments the customers and mines the baskets (jobs/segmentation.hpp), and writes in the output
// directory: segmentation.h5 (customers with their segment and PCA coordinates, segment profiles,
// the PCA and K-means models, itemsets and rules, run metadata), segments.csv,
// segment_profiles.csv, rules.csv, rejects.csv and summary.json. Layout: docs/formats.md
// ("omniseg run"). Logs a short human summary (segments, top rules, files) and prints one JSON line.
// With a checkpoint directory every stage is checkpointed and a rerun resumes (jobs/checkpoints.hpp);
// SIGTERM or SIGUSR1 stops all ranks at the next safe point with exit code 75.
#pragma once

#include <CLI/App.hpp>
#include <string>

#include "jobs/command_line.hpp"

namespace omniseg::jobs {

struct RunCommandOptions {
  std::string config;
  std::string output;  ///< overrides [output].directory
  std::string checkpoint_directory;  ///< overrides [checkpoint].directory
};

void add_run_command(CLI::App& app, Selection& selection);

/// Collective.
void run_segmentation_job(const engine::Communicator& comm, const RunCommandOptions& options);

}  // namespace omniseg::jobs
