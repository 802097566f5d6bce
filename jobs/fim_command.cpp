#include "jobs/fim_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>

#include "algorithms/fim/closed_maximal.hpp"
#include "algorithms/fim/pfp.hpp"
#include "algorithms/rules/association_rules.hpp"
#include "engine/errors.hpp"
#include "engine/phase_timers.hpp"
#include "engine/wall_clock.hpp"
#include "io/fimi_reader.hpp"
#include "io/hdf5.hpp"
#include "io/ordered_text.hpp"
#include "jobs/command_totals.hpp"
#include "jobs/itemset_outputs.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {
namespace {

struct OutputPaths {
  std::string hdf5;
  std::string text;
  std::string rules_csv;
};

/// OUT.h5 stays as given; OUT becomes OUT.h5. The text file is the same name ending in .txt, the
/// rules CSV the same name ending in _rules.csv.
OutputPaths output_paths(const std::string& output) {
  const bool has_suffix = output.size() > 3 && output.ends_with(".h5");
  const std::string stem = has_suffix ? output.substr(0, output.size() - 3) : output;
  return {stem + ".h5", stem + ".txt", stem + "_rules.csv"};
}

/// The rule options of the command line, checked with messages that name the options; nullopt
/// without --rules.
std::optional<rules::RuleOptions> rule_options(const FimOptions& options) {
  if (!options.rules) {
    if (options.min_confidence || options.min_lift != 0 || options.top != 0) {
      throw InputError("--min-confidence, --min-lift and --top only apply with --rules");
    }
    return std::nullopt;
  }
  if (!options.min_confidence) throw InputError("--rules needs --min-confidence C (a fraction, 0 < C <= 1)");
  const double confidence = *options.min_confidence;
  if (!(confidence > 0 && confidence <= 1)) {
    throw InputError(fmt::format("--min-confidence must lie in (0, 1], got {}", confidence));
  }
  if (!(options.min_lift >= 0) || !std::isfinite(options.min_lift)) {
    throw InputError(
        fmt::format("--min-lift must be a finite number >= 0 (0: no lift filter), got {}", options.min_lift));
  }
  if (options.top < 0) {
    throw InputError(fmt::format("--top must be >= 0 (0: all rules), got {}", options.top));
  }
  return rules::RuleOptions{.min_confidence = confidence, .min_lift = options.min_lift,
                            .top = static_cast<std::uint64_t>(options.top)};
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

io::PageCacheBypass output_page_cache(const FimOptions& options) {
  return {.enabled = options.bypass_page_cache};
}

void write_hdf5(const engine::Communicator& comm, const std::string& path, const fim::FrequentItemsets& mined,
                const FimOptions& options, std::uint64_t min_support, const rules::AssociationRules* found,
                const std::optional<rules::RuleOptions>& rule_settings) {
  io::write_file_atomically(comm, path, [&](io::File& file) {
    write_itemsets(file, comm, mined, min_support, options.max_size);
    file.write_string_attribute("/fim", "kind", options.closed ? "closed" : options.maximal ? "maximal" : "all");
    file.write_string_attribute("/fim", "input", options.input);
    file.write_string_attribute("/", "omniseg_version", version_line());
    if (found) write_rules(file, comm, *found, *rule_settings);
  }, {.page_cache_bypass = output_page_cache(options)});
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
  fim->add_option("--output", options->output,
                  "Output name: writes OUT.h5 (and OUT.txt with --text, OUT_rules.csv with --rules)")
      ->required();
  fim->add_flag("--text", options->text, "Also write OUT.txt, one itemset per line: 'i1 i2 i3 #SUP: n'");
  add_bypass_page_cache_option(*fim, options->bypass_page_cache);
  fim->add_option("--groups-per-rank", options->groups_per_rank, "PFP item groups per rank (load balance)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* closed = fim->add_flag("--closed", options->closed,
                               "Only closed itemsets: no proper superset has the same support");
  auto* maximal = fim->add_flag("--maximal", options->maximal, "Only maximal itemsets: no proper superset is frequent")
                      ->excludes(closed);
  fim->add_flag("--rules", options->rules,
                "Also write association rules X -> Y to OUT.h5 (/rules) and OUT_rules.csv; "
                "needs --min-confidence (rules come from all frequent itemsets: not with --closed/--maximal)")
      ->excludes(closed)
      ->excludes(maximal);
  fim->add_option_function<double>(
      "--min-confidence", [options](const double& value) { options->min_confidence = value; },
      "With --rules: keep rules with confidence sup(X u Y) / sup(X) >= C (0 < C <= 1)");
  fim->add_option("--min-lift", options->min_lift,
                  "With --rules: keep rules with lift >= X (0: no lift filter)")
      ->capture_default_str();
  fim->add_option("--top", options->top,
                  "With --rules: keep only the N rules of highest lift, ties in canonical order (0: all)")
      ->capture_default_str();
  fim->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) { run_fim(comm, *options); };
  });
}

void run_fim(const engine::Communicator& comm, const FimOptions& options) {
  const double start = engine::wall_seconds();
  const auto rule_settings = rule_options(options);  // bad options fail before any work
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
  // Exact closed or maximal sets of size <= L need the frequent sets of size L + 1.
  const bool condensed = options.closed || options.maximal;
  const std::uint32_t mined_max_size = condensed && options.max_size != 0 ? options.max_size + 1 : options.max_size;
  const fim::PfpOptions pfp{.limits = {.min_support = min_support, .max_size = mined_max_size},
                            .groups_per_rank = options.groups_per_rank};
  auto mined = fim::mine_frequent_itemsets(comm, transactions, pfp, timers);
  spdlog::info("fim: {} frequent items in {} groups; {} itemsets", mined.frequent_items, mined.groups, mined.total);
  if (condensed) {
    const auto kind = options.closed ? fim::CondensedKind::closed : fim::CondensedKind::maximal;
    mined = fim::keep_closed_or_maximal(comm, mined, {.kind = kind, .max_size = options.max_size}, timers);
    spdlog::info("fim: {} {} itemsets", mined.total, options.closed ? "closed" : "maximal");
  }

  std::optional<rules::AssociationRules> found;
  if (rule_settings) {
    found = rules::generate_rules(comm, mined, *rule_settings, timers);
    spdlog::info("fim: {} rules (confidence >= {}, lift >= {}, top {}) from {} candidate splits, {} with "
                 "enough confidence, in {} lookup rounds",
                 found->total, rule_settings->min_confidence, rule_settings->min_lift, rule_settings->top,
                 found->candidates, found->confident, found->lookup_rounds);
  }

  const auto paths = output_paths(options.output);
  {
    auto phase = timers.phase("write");
    write_hdf5(comm, paths.hdf5, mined, options, min_support, found ? &*found : nullptr, rule_settings);
    if (options.text) {
      io::write_ordered_text(comm, paths.text, format_itemsets(mined.local), output_page_cache(options));
    }
    if (found) io::write_ordered_text(comm, paths.rules_csv, rules_csv_text(comm, *found), output_page_cache(options));
  }
  const auto totals = command_totals(comm, timers, start);
  spdlog::info("fim: wrote {}{}{}; phase times across ranks:\n{}", paths.hdf5,
               options.text ? " and " + paths.text : "", found ? " and " + paths.rules_csv : "",
               engine::format_table(totals.phases));
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
        {"rules", found ? found->total : 0},
        {"kind", options.closed ? "closed" : options.maximal ? "maximal" : "all"},
        {"groups", mined.groups},
        {"shard_items_sent", mined.shard_items_sent},
        {"output", paths.hdf5},
        {"seconds", totals.seconds},
        {"peak_rss_bytes_max_rank", totals.peak_rss_bytes_max_rank},
        {"phases", engine::to_json(totals.phases)},
    };
    std::cout << summary.dump() << std::endl;
  }
}

}  // namespace omniseg::jobs
