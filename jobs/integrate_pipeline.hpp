// jobs/integrate_pipeline.hpp — the integration stages: from the channels' CSV exports to one
// customer view (features) and the baskets, with every input row accounted for.
//
// Owns: the order of the stages and what crosses ranks between them:
//   1. customers: parsed, duplicates removed by a global sort (the first line of an id wins); the
//      sorted blocks define which rank owns which customer ids (a range partition);
//   2. items: parsed, categories numbered globally, duplicates removed the same way;
//   3. identity: parsed, shuffled by key; a key mapped to several customers keeps the lowest
//      customer_id (identity_conflict for the others); each kept key learns whether its customer
//      exists from the customer's owner;
//   4. order lines ⋈ items (engine hash join, broadcast: the catalog is small) and ⋈ identity
//      (engine hash join, shuffled by key, whale keys split over ranks);
//   5. features: partial totals per order and per (customer, category) on the joining rank, merged
//      on the customer's owner (algorithms/features), so one whale customer moves few bytes;
//   6. baskets: one per (channel, order_id), sorted globally (algorithms/features/baskets.hpp).
// Precedence of reject reasons for an order line: format problems (while parsing), then
// unknown_item, then unknown_channel_key, then unknown_customer.
// Does not own: parsing rows (jobs/input_tables.hpp), the joins and shuffles (engine/), writing
// the outputs (jobs/integrate_command.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "algorithms/features/baskets.hpp"
#include "algorithms/features/customer_features.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"
#include "io/reject_log.hpp"
#include "jobs/job_config.hpp"

namespace omniseg::jobs {

/// Where the rows of one input file ended up; read = joined + anonymous + Σ rejected.
struct FileAccounting {
  std::string file;               ///< as named in the config
  std::uint64_t read = 0;         ///< records (lines, not counting the header)
  std::uint64_t joined = 0;       ///< order files: lines in the customer view; other files: rows kept
  std::uint64_t anonymous = 0;    ///< order lines without a channel key (in baskets, not in features)
  std::map<std::string, std::uint64_t> rejected;  ///< by reason name

  [[nodiscard]] std::uint64_t rejected_total() const;
  [[nodiscard]] bool balanced() const { return read == joined + anonymous + rejected_total(); }
};

/// How a join ran, for the summary.
struct JoinSummary {
  std::string name;
  std::string strategy;
  std::uint64_t heavy_keys = 0;
  std::uint64_t matched_rows = 0;  ///< lines that found their key
  std::uint64_t keys_sent = 0;     ///< keys sent to another rank's part of the right side
  std::uint64_t bytes_moved = 0;   ///< by the exchanges of the join, all ranks
};

struct IntegrationResult {
  std::vector<std::string> feature_names;
  features::FeatureRows features;      ///< this rank's rows; ranks hold consecutive id ranges, ascending
  features::BasketText baskets;        ///< this rank's FIMI lines; concatenated in rank order
  std::vector<io::RejectRecord> rejects;  ///< this rank's rejects (any order)
  std::vector<FileAccounting> accounting; ///< same on every rank, in InputFiles order
  std::uint64_t identity_conflict_keys = 0;  ///< keys mapped to more than one customer
  std::uint64_t customers_with_features = 0;
  std::uint64_t baskets_total = 0;
  std::vector<std::string> top_categories;
  std::vector<JoinSummary> joins;
};

/// Collective. Runs stages 1–6 on every rank; phases are timed in `timers`.
[[nodiscard]] IntegrationResult integrate(const engine::Communicator& comm, const JobConfig& config,
                                          engine::PhaseTimers& timers);

}  // namespace omniseg::jobs
