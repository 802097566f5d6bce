#include "jobs/fim_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "algorithms/fim/pfp.hpp"
#include "engine/errors.hpp"
#include "engine/phase_timers.hpp"
#include "engine/resources.hpp"
#include "io/fimi_reader.hpp"
#include "io/hdf5.hpp"
#include "io/ordered_text.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {
namespace {

struct OutputPaths {
  std::string hdf5;
  std::string text;
};

/// OUT.h5 stays as given; OUT becomes OUT.h5. The text file is the same name ending in .txt.
OutputPaths output_paths(const std::string& output) {
  const bool has_suffix = output.size() > 3 && output.ends_with(".h5");
  const std::string stem = has_suffix ? output.substr(0, output.size() - 3) : output;
  return {stem + ".h5", stem + ".txt"};
}

/// "1 5 9 #SUP: 12\n" for each local itemset.
std::string format_itemsets(const fim::ItemsetList<fim::ItemId>& itemsets) {
  fmt::memory_buffer text;
  for (std::size_t i = 0; i < itemsets.size(); ++i) {
    for (const fim::ItemId item : itemsets.sets[i]) fmt::format_to(std::back_inserter(text), "{} ", item);
    fmt::format_to(std::back_inserter(text), "#SUP: {}\n", itemsets.support[i]);
  }
  return fmt::to_string(text);
}

void write_hdf5(const engine::Communicator& comm, const std::string& path, const fim::FrequentItemsets& mined,
                const FimOptions& options, std::uint64_t min_support) {
  // Offsets are global: shift the local CSR offsets by the items before this rank; the last rank
  // also writes the end, so the dataset has itemsets + 1 entries.
  const auto& local = mined.local.sets;
  const std::uint64_t items_before = comm.exclusive_prefix_sum(local.items.size());
  std::vector<std::uint64_t> offsets(local.offsets.begin(), local.offsets.end() - 1);
  if (comm.rank() == comm.size() - 1) offsets.push_back(local.offsets.back());
  for (auto& offset : offsets) offset += items_before;
  io::write_file_atomically(comm, path, [&](io::File& file) {
    file.write_vector_rows("/fim/offsets", offsets);
    file.write_vector_rows("/fim/items", local.items);
    file.write_vector_rows("/fim/support", mined.local.support);
    file.write_root_vector("/fim/by_size", mined.by_size);
    file.write_int_attribute("/fim", "min_support", static_cast<std::int64_t>(min_support));
    file.write_int_attribute("/fim", "max_size", options.max_size);
    file.write_int_attribute("/fim", "transactions", static_cast<std::int64_t>(mined.transactions));
    file.write_int_attribute("/fim", "itemsets", static_cast<std::int64_t>(mined.total));
    file.write_string_attribute("/fim", "order", "by size, then lexicographic by item id");
    file.write_string_attribute("/fim", "input", options.input);
    file.write_string_attribute("/", "omniseg_version", version_line());
  });
}

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::uint64_t absolute_min_support(double min_support, std::uint64_t transactions, const std::string& input) {
  if (!(min_support > 0) || !std::isfinite(min_support)) {
    throw InputError(fmt::format("--min-support must be a positive count or a fraction in (0, 1), got {}", min_support));
  }
  std::uint64_t count = 0;
  if (min_support < 1) {
    count = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(min_support * static_cast<double>(transactions))));
  } else {
    if (min_support != std::floor(min_support)) {
      throw InputError(fmt::format("--min-support {} is >= 1, so it is a count of transactions and must be an integer "
                                   "(a fraction must lie in (0, 1))", min_support));
    }
    count = static_cast<std::uint64_t>(min_support);
  }
  if (count > transactions) {
    throw InputError(fmt::format("--min-support {} needs {} transactions, but {} has only {}", min_support, count,
                                 input, transactions));
  }
  return count;
}

void add_fim_command(CLI::App& app, Selection& selection) {
  auto options = std::make_shared<FimOptions>();
  auto* fim = app.add_subcommand("fim", "Frequent itemsets of a FIMI transaction file (PFP over all ranks)");
  fim->add_option("--input", options->input, "FIMI file: one transaction per line, item ids separated by spaces")
      ->required();
  fim->add_option("--min-support", options->min_support,
                  "Minimum support: a transaction count (>= 1) or a fraction of transactions (0 < S < 1)")
      ->required();
  fim->add_option("--max-size", options->max_size, "Largest itemset size reported (0: no limit)")->capture_default_str();
  fim->add_option("--output", options->output, "Output name: writes OUT.h5 (and OUT.txt with --text)")->required();
  fim->add_flag("--text", options->text, "Also write OUT.txt, one itemset per line: 'i1 i2 i3 #SUP: n'");
  fim->add_option("--groups-per-rank", options->groups_per_rank, "PFP item groups per rank (load balance)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fim->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) { run_fim(comm, *options); };
  });
}

void run_fim(const engine::Communicator& comm, const FimOptions& options) {
  const double start = now_s();
  engine::PhaseTimers timers(comm);
  io::TransactionShard shard;
  {
    auto phase = timers.phase("read");
    shard = io::read_fimi_transactions(comm, options.input);
  }
  const std::uint64_t min_support = absolute_min_support(options.min_support, shard.global_transactions, options.input);
  spdlog::info("fim: {} transactions, {} item occurrences in {}; min support {} transactions", shard.global_transactions,
               shard.global_item_occurrences, options.input, min_support);

  fim::SetList<fim::ItemId> transactions{std::move(shard.local.offsets), std::move(shard.local.items)};
  const fim::PfpOptions pfp{.limits = {.min_support = min_support, .max_size = options.max_size},
                            .groups_per_rank = options.groups_per_rank};
  const auto mined = fim::mine_frequent_itemsets(comm, transactions, pfp, timers);
  spdlog::info("fim: {} frequent items in {} groups; {} itemsets", mined.frequent_items, mined.groups, mined.total);

  const auto paths = output_paths(options.output);
  {
    auto phase = timers.phase("write");
    write_hdf5(comm, paths.hdf5, mined, options, min_support);
    if (options.text) io::write_ordered_text(comm, paths.text, format_itemsets(mined.local));
  }
  const auto phases = timers.reduce();
  const double seconds = comm.allreduce(now_s() - start, engine::ReduceOp::max);
  const std::uint64_t peak_bytes = comm.allreduce(engine::peak_resident_bytes(), engine::ReduceOp::max);
  spdlog::info("fim: wrote {}{}; phase times across ranks:\n{}", paths.hdf5, options.text ? " and " + paths.text : "",
               engine::format_table(phases));
  if (comm.is_root()) {
    const nlohmann::json summary = {
        {"command", "fim"},
        {"input", options.input},
        {"ranks", comm.size()},
        {"transactions", mined.transactions},
        {"min_support", min_support},
        {"frequent_items", mined.frequent_items},
        {"itemsets", mined.total},
        {"by_size", mined.by_size},
        {"rules", 0},
        {"groups", mined.groups},
        {"shard_items_sent", mined.shard_items_sent},
        {"output", paths.hdf5},
        {"seconds", seconds},
        {"peak_rss_bytes_max_rank", peak_bytes},
        {"phases", engine::to_json(phases)},
    };
    std::cout << summary.dump() << std::endl;
  }
}

}  // namespace omniseg::jobs
