#include "jobs/command_line.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <spdlog/spdlog.h>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "jobs/doctor.hpp"
#include "jobs/fim_command.hpp"
#include "jobs/generate_command.hpp"
#include "jobs/integrate_command.hpp"
#include "jobs/kmeans_command.hpp"
#include "jobs/pca_command.hpp"
#include "jobs/run_command.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {
namespace {

void add_global_options(CLI::App& app, GlobalOptions& global, std::string& log_level) {
  app.set_version_flag("--version", version_line(), "Print the version and git commit, then exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_flag("--log-all-ranks", global.log.all_ranks, "Every rank logs (default: rank 0 only)");
  app.add_option("--failure-grace-s", global.failure_grace_s,
                 "Seconds a failed rank waits for the others before aborting the job")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

std::string subcommand_names(const CLI::App& app) {
  std::string names;
  for (const auto* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

}  // namespace

void add_bypass_page_cache_option(CLI::App& command, bool& bypass) {
  command
      .add_option("--bypass-page-cache", bypass,
                  "Write outputs of at least 4 MiB a rank with direct I/O around the page cache (true or false)")
      ->capture_default_str();
}

int run_command_line(const engine::Communicator& world, int argc, char** argv) {
  CLI::App app("omniseg: customer segmentation and market-basket mining on MPI clusters.\n"
               "Run under mpiexec or srun; every subcommand runs on all ranks.",
               "omniseg");
  app.get_formatter()->column_width(34);
  GlobalOptions global;
  std::string log_level = "info";
  add_global_options(app, global, log_level);

  Selection selection;
  add_doctor_command(app, selection);
  add_fim_command(app, selection);
  add_generate_command(app, selection);
  add_integrate_command(app, selection);
  add_kmeans_command(app, selection);
  add_pca_command(app, selection);
  add_run_command(app, selection);
  // At most one; "none" is reported below, so that an unknown word is named as such by CLI11.
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
    global.log.level = engine::parse_log_level(log_level);
    if (!selection.run) throw std::invalid_argument("a subcommand is required: " + subcommand_names(app));
  } catch (const CLI::ParseError& e) {
    // Every rank parsed the same argv and failed the same way: rank 0 speaks for all.
    int code = 0;
    if (world.is_root()) {
      code = app.exit(e);
    } else {
      std::ostringstream quiet;
      code = app.exit(e, quiet, quiet);
    }
    return code == 0 ? exit_codes::success : exit_codes::usage;
  } catch (const std::invalid_argument& e) {
    if (world.is_root()) std::cerr << e.what() << "\nRun with --help for more information.\n";
    return exit_codes::usage;
  }

  engine::configure_logging(world, global.log);
  try {
    engine::collectively(world, [&] { selection.run(world, global); },
                         engine::AgreementOptions{.failure_grace_s = global.failure_grace_s});
  } catch (const CollectiveError& e) {
    if (e.exit_code() == exit_codes::stopped) {
      spdlog::warn("{}", e.what());
    } else {
      spdlog::error("{}", e.what());
    }
    return e.exit_code();
  }
  return exit_codes::success;
}

}  // namespace omniseg::jobs
