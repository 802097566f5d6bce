// jobs/fim_command.hpp — `omniseg fim`: frequent itemsets of a FIMI transaction file.
//
// Reads the file in parallel (io/fimi_reader.hpp), mines with PFP (algorithms/fim/pfp.hpp), writes
// OUT.h5 (/fim/offsets, /fim/items, /fim/support in canonical order) and, with --text, OUT.txt
// ("i1 i2 i3 #SUP: n" per line), and prints one JSON summary line. With --rules it also draws
// association rules from the itemsets (algorithms/rules/association_rules.hpp) into OUT.h5's
// /rules group and OUT_rules.csv (layout in docs/rules.md).
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "jobs/command_line.hpp"

namespace omniseg::jobs {

struct FimOptions {
  std::string input;
  double min_support = 0;        ///< >= 1: absolute count; in (0, 1): fraction of transactions
  std::uint32_t max_size = 0;    ///< 0: no limit
  std::string output;            ///< OUT or OUT.h5; the text goes to OUT.txt
  bool text = false;
  int groups_per_rank = 256;
  bool closed = false;           ///< only closed itemsets (no superset with the same support)
  bool maximal = false;          ///< only maximal itemsets (no frequent superset)
  bool rules = false;            ///< also draw association rules from the itemsets
  std::optional<double> min_confidence;  ///< required with rules; in (0, 1]
  double min_lift = 0;           ///< 0: no lift filter
  std::int64_t top = 0;          ///< keep the `top` rules of highest lift; 0: all (negative: an error)
  bool bypass_page_cache = true;  ///< outputs of at least 4 MiB a rank around the page cache (io::PageCacheBypass)
};

void add_fim_command(CLI::App& app, Selection& selection);

/// Collective.
void run_fim(const engine::Communicator& comm, const FimOptions& options);

/// The absolute support threshold for `min_support` over `transactions` (see FimOptions); throws
/// InputError for values <= 0, non-integers >= 1, or thresholds above the transaction count.
std::uint64_t absolute_min_support(double min_support, std::uint64_t transactions, const std::string& input);

}  // namespace omniseg::jobs
