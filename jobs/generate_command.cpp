#include "jobs/generate_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/errors.hpp"
#include "engine/phase_timers.hpp"
#include "engine/wall_clock.hpp"
#include "jobs/command_totals.hpp"

namespace omniseg::jobs {

void add_generate_command(CLI::App& app, Selection& selection) {
  auto options = std::make_shared<GenerateCommandOptions>();
  io::OmnichannelOptions& g = options->generator;
  auto* generate = app.add_subcommand(
      "generate", "Write synthetic omnichannel input (customers, identity map, items, three order files, job.toml, truth.h5)");
  generate->add_option("--out", options->out, "Output directory (created if missing)")->required();
  generate->add_option("--customers", g.customers, "Number of customers N (>= 1)")->capture_default_str();
  generate->add_option("--items", g.items, "Number of catalog items M (>= 1)")->capture_default_str();
  generate->add_option("--orders", g.order_lines, "Order lines L over the three order files together (>= 0)")
      ->capture_default_str();
  generate->add_option("--seed", options->seed,
                       "Random seed (>= 0): the same options give the same bytes on any number of ranks")
      ->capture_default_str();
  generate->add_option("--dirty-rate", g.dirty_rate, "Share of dirty rows planted per row of every file, 0 to 0.5")
      ->capture_default_str();
  generate->add_option("--whales", g.whales, "Whale customers holding ~30% of the order lines together (<= N)")
      ->capture_default_str();
  generate->add_option("--segments", g.segments, "Latent customer segments K (1 to 20)")->capture_default_str();
  generate->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) { run_generate(comm, *options); };
  });
}

void run_generate(const engine::Communicator& comm, const GenerateCommandOptions& options) {
  const double start = engine::wall_seconds();
  if (options.seed < 0) throw InputError(fmt::format("--seed must be >= 0, got {}", options.seed));
  io::OmnichannelOptions generator = options.generator;
  generator.seed = static_cast<std::uint64_t>(options.seed);
  io::check_omnichannel_options(generator);
  spdlog::info("generate: {} customers, {} items, {} order lines, seed {}, dirty rate {}, {} whales, {} segments -> {}",
               generator.customers, generator.items, generator.order_lines, generator.seed, generator.dirty_rate,
               generator.whales, generator.segments, options.out);

  engine::PhaseTimers timers(comm);
  const io::OmnichannelReport report = io::generate_omnichannel(comm, generator, options.out, timers);
  const auto totals = command_totals(comm, timers, start);
  spdlog::info("generate: {} order lines in {} orders, {} dirty rows planted; {:.2f} s; phase times across ranks:\n{}",
               generator.order_lines, report.orders.orders, report.dirt.planted_rows, totals.seconds,
               engine::format_table(totals.phases));
  if (!comm.is_root()) return;

  nlohmann::json files = nlohmann::json::object();
  for (std::size_t f = 0; f < io::generated_file_count; ++f) {
    const auto file = static_cast<io::GeneratedFile>(f);
    nlohmann::json rejects = nlohmann::json::object();
    for (std::size_t r = 0; r < io::dirt_reason_count; ++r) {
      const std::uint64_t count = report.dirt.at(file, static_cast<io::DirtReason>(r));
      if (count > 0) rejects[std::string(io::dirt_reason_names[r])] = count;
    }
    files[std::string(io::generated_file_names[f])] = {{"rows", report.rows[f]},
                                                       {"expected_rejects", report.dirt.rejected(file)},
                                                       {"rejects_by_reason", rejects}};
  }
  const nlohmann::json summary = {
      {"command", "generate"},
      {"out", options.out},
      {"ranks", comm.size()},
      {"seed", generator.seed},
      {"customers", generator.customers},
      {"items", generator.items},
      {"order_lines", generator.order_lines},
      {"orders", report.orders.orders},
      {"lines_by_channel", report.orders.lines_by_channel},
      {"whale_lines", report.orders.whale_lines},
      {"anonymous_lines", report.orders.anonymous_lines},
      {"return_lines", report.orders.return_lines},
      {"dirty_rate", generator.dirty_rate},
      {"dirty_rows_planted", report.dirt.planted_rows},
      {"identity_conflict_keys", report.dirt.identity_conflict_keys},
      {"orphaned_keys", report.dirt.orphaned_keys},
      {"files", files},
      {"seconds", totals.seconds},
      {"peak_rss_bytes_max_rank", totals.peak_rss_bytes_max_rank},
      {"phases", engine::to_json(totals.phases)},
  };
  std::cout << summary.dump() << std::endl;
}

}  // namespace omniseg::jobs
