// jobs/segmentation.hpp — the segmentation stages after integration: standardize → PCA → K-means →
// segment profiles, and baskets → itemsets → rules.
//
// Owns: how the stages hand data on. The customers' features are row-sharded in customer id order
// (ranks hold consecutive id ranges), so global row i is the i-th customer by id on any number of
// ranks; PCA standardizes them (exact column moments) and projects them; K-means segments the
// projections; the profiles are exact per-segment means of the features in original and in
// standardized units. Baskets are the FIMI lines integration built; PFP mines them and the rules
// come from the itemsets. Every result is the same on any number of ranks, except that PCA agrees
// to 1e-12 (docs/pca.md), and so do the K-means inputs. Each stage is loaded from its checkpoint
// when there is a valid one (jobs/checkpoints.hpp), else computed and checkpointed; after each, and
// after every K-means iteration, is a safe point where a requested stop ends the job.
// Does not own: the algorithms (algorithms/), the integration and the outputs (jobs/run_command.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <string>
#include <vector>

#include "algorithms/features/customer_features.hpp"
#include "algorithms/fim/pfp.hpp"
#include "algorithms/pca/pca.hpp"
#include "algorithms/rules/association_rules.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"
#include "io/fimi_reader.hpp"
#include "jobs/checkpoints.hpp"
#include "jobs/job_config.hpp"
#include "jobs/kmeans_fit.hpp"

namespace omniseg::jobs {

/// Per segment, the same on every rank.
struct SegmentProfiles {
  std::uint64_t k = 0;
  std::uint64_t features = 0;
  std::vector<std::uint64_t> sizes;             ///< k
  std::vector<double> mean;                     ///< k × features: mean feature values, original units
  std::vector<double> mean_standardized;        ///< k × features: the same in standardized units
};

struct CustomerPca {
  pca::PcaModel model;
  std::vector<double> projection;  ///< local customers × components, row-major
};

struct CustomerSegments {
  CustomerPca pca;
  KmeansFitResult kmeans;  ///< labels: one per local customer
  SegmentProfiles profiles;
};

/// Called on every rank at each safe point, with what was just finished: returns when no rank has
/// been asked to stop, else throws StopRequested on every rank (collective).
using StopCheck = std::function<void(std::string_view after)>;

/// Where a job's baskets come from when the itemsets must be mined (called at most once).
using BasketSource = std::function<io::TransactionCsr()>;

struct BasketRules {
  std::uint64_t min_support = 0;  ///< absolute
  fim::FrequentItemsets itemsets;
  rules::AssociationRules rules;
  rules::RuleOptions rule_options;
};

/// The row block of a feature table (local customers × names.size()).
[[nodiscard]] linalg::RowBlockView feature_view(const engine::Communicator& comm, const features::FeatureRows& rows,
                                                std::size_t columns);

/// Collective: standardize → PCA (phase "pca") → K-means (its phases) → profiles (phase "profiles"),
/// each stage from its checkpoint when it has one. Throws the same InputError on every rank when the
/// data cannot support the configuration (fewer customers than k or than 2, more components than
/// features).
[[nodiscard]] CustomerSegments segment_customers(const engine::Communicator& comm, const JobConfig& config,
                                                 const features::FeatureRows& features, std::size_t feature_count,
                                                 engine::PhaseTimers& timers, JobCheckpoints& checkpoints,
                                                 const StopCheck& stop_check);

/// Collective: exact per-segment means. `labels` one per local row of `features`.
[[nodiscard]] SegmentProfiles profile_segments(const engine::Communicator& comm, const linalg::RowBlockView& features,
                                               std::span<const std::int32_t> labels, std::uint64_t k,
                                               const pca::PcaModel& model);

/// Collective: the baskets' frequent itemsets (phases of PFP) and rules (phases of the rules), each
/// from its checkpoint when it has one. `baskets` gives this rank's baskets (items ascending without
/// duplicates), `basket_total` is their number over all ranks. No safe point inside: the caller
/// checkpoints the integration after it.
[[nodiscard]] BasketRules mine_basket_rules(const engine::Communicator& comm, const JobConfig& config,
                                            const BasketSource& baskets, std::uint64_t basket_total,
                                            engine::PhaseTimers& timers, JobCheckpoints& checkpoints);

}  // namespace omniseg::jobs
