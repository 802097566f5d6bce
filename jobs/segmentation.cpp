#include "jobs/segmentation.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/exact_sum.hpp"
#include "engine/stop_request.hpp"
#include "jobs/fim_command.hpp"

namespace omniseg::jobs {

linalg::RowBlockView feature_view(const engine::Communicator& comm, const features::FeatureRows& rows,
                                  std::size_t columns) {
  const std::uint64_t local_rows = rows.customer_ids.size();
  return {.values = rows.matrix,
          .local_rows = local_rows,
          .columns = columns,
          .first_global_row = comm.exclusive_prefix_sum(local_rows),
          .global_rows = comm.allreduce(local_rows, engine::ReduceOp::sum)};
}

namespace {

KmeansFitSettings kmeans_settings(const KmeansConfig& config) {
  KmeansFitSettings settings;
  settings.k_first = config.k_first;
  settings.k_last = config.k_last;
  settings.init = config.kmeans_parallel_init ? kmeans::InitMethod::kmeans_parallel : kmeans::InitMethod::kmeans_plus_plus;
  settings.restarts = config.restarts;
  settings.seed = config.seed;
  settings.max_iterations = config.max_iterations;
  settings.tolerance = config.tolerance;
  return settings;
}

/// For tests of preemption: OMNISEG_TEST_KMEANS_ITERATION_SLEEP_MS stretches every K-means iteration,
/// so that a signal sent from outside lands in the middle of K-means even on tiny data.
std::chrono::milliseconds test_iteration_sleep() {
  const char* value = std::getenv("OMNISEG_TEST_KMEANS_ITERATION_SLEEP_MS");
  return std::chrono::milliseconds(value != nullptr ? std::strtoll(value, nullptr, 10) : 0);
}

KmeansFitResult fit_customer_kmeans(const engine::Communicator& comm, const JobConfig& config,
                                    const linalg::RowBlockView& projected, engine::PhaseTimers& timers,
                                    JobCheckpoints& checkpoints, const StopCheck& stop_check) {
  if (auto fit = checkpoints.load_kmeans()) return std::move(*fit);
  KmeansFitSettings settings = kmeans_settings(config.kmeans);
  const std::optional<KmeansResumePoint> resume = checkpoints.load_kmeans_progress();
  if (resume) settings.resume_from = &*resume;
  const auto sleep = test_iteration_sleep();
  settings.on_progress = [&](const KmeansFitState& state, const kmeans::LloydSnapshot& snapshot) {
    if (sleep.count() > 0) std::this_thread::sleep_for(sleep);
    const bool stopping = engine::agreed_stop_signal(comm) != 0;
    if (stopping || snapshot.iterations % checkpoints.kmeans_interval() == 0) {
      checkpoints.save_kmeans_progress(state, snapshot);
    }
    if (stopping) stop_check(fmt::format("K-means iteration {} (k {}, run {})", snapshot.iterations, state.k, state.restart + 1));
  };
  KmeansFitResult fit = fit_kmeans(comm, projected, settings, timers);
  checkpoints.save_kmeans(fit);
  return fit;
}

}  // namespace

CustomerSegments segment_customers(const engine::Communicator& comm, const JobConfig& config,
                                   const features::FeatureRows& features, std::size_t feature_count,
                                   engine::PhaseTimers& timers, JobCheckpoints& checkpoints,
                                   const StopCheck& stop_check) {
  const linalg::RowBlockView view = feature_view(comm, features, feature_count);
  const std::uint64_t n = view.global_rows;
  // The same numbers on every rank: every rank throws the same error.
  if (config.pca.components > feature_count) {
    throw InputError(fmt::format("{}: pca.components = {} exceeds the {} features", config.config_path,
                                 config.pca.components, feature_count));
  }
  if (n < 2 || config.kmeans.k_last > n) {
    throw InputError(fmt::format("{}: {} customers with features: too few for PCA (2) or for kmeans.k (up to {})",
                                 config.config_path, n, config.kmeans.k_last));
  }
  CustomerSegments segments;
  if (auto model = checkpoints.load_pca()) {
    segments.pca.model = std::move(*model);
  } else {
    {
      auto phase = timers.phase("pca");
      segments.pca.model =
          pca::fit_pca(comm, view, {.components = config.pca.components, .standardize = true, .blocking = {}}, timers);
    }
    checkpoints.save_pca(segments.pca.model);
  }
  {
    auto phase = timers.phase("pca projection");
    segments.pca.projection = pca::project(view, segments.pca.model);
  }
  double explained = 0;
  for (const double ratio : segments.pca.model.explained_variance_ratio) explained += ratio;
  spdlog::info("segment: PCA of {} customers × {} standardized features: {} components explain {:.1f} % of the variance",
               n, feature_count, config.pca.components, 100 * explained);
  stop_check("PCA");

  const std::uint64_t q = config.pca.components;
  const linalg::RowBlockView projected{.values = segments.pca.projection, .local_rows = view.local_rows, .columns = q,
                                       .first_global_row = view.first_global_row, .global_rows = n};
  segments.kmeans = fit_customer_kmeans(comm, config, projected, timers, checkpoints, stop_check);
  stop_check("K-means");
  {
    auto phase = timers.phase("profiles");
    const auto& result = segments.kmeans.chosen.result;
    segments.profiles = profile_segments(comm, view, result.labels, result.k, segments.pca.model);
  }
  return segments;
}

SegmentProfiles profile_segments(const engine::Communicator& comm, const linalg::RowBlockView& features,
                                 std::span<const std::int32_t> labels, std::uint64_t k, const pca::PcaModel& model) {
  const std::uint64_t d = features.columns;
  SegmentProfiles profiles{.k = k, .features = d, .sizes = std::vector<std::uint64_t>(k, 0), .mean = {}, .mean_standardized = {}};
  // Exact fixed-point sums: the means are the same bits on any number of ranks.
  std::vector<double> largest(d, 0);
  for (std::uint64_t row = 0; row < features.local_rows; ++row) {
    for (std::uint64_t c = 0; c < d; ++c) largest[c] = std::max(largest[c], std::abs(features.row(row)[c]));
  }
  largest = comm.allreduce(largest, engine::ReduceOp::max);
  const auto scales = engine::FixedPointScales::for_max_abs(largest);
  std::vector<engine::Int128> sums(k * d + k, 0);  // k × d sums, then k counts
  for (std::uint64_t row = 0; row < features.local_rows; ++row) {
    const auto segment = static_cast<std::uint64_t>(labels[row]);
    for (std::uint64_t c = 0; c < d; ++c) sums[segment * d + c] += scales.to_fixed(c, features.row(row)[c]);
    sums[k * d + segment] += 1;
  }
  comm.allreduce_exact_sum_in_place(sums);
  profiles.mean.resize(k * d);
  profiles.mean_standardized.resize(k * d);
  for (std::uint64_t segment = 0; segment < k; ++segment) {
    profiles.sizes[segment] = static_cast<std::uint64_t>(sums[k * d + segment]);
    const double size = static_cast<double>(profiles.sizes[segment]);
    for (std::uint64_t c = 0; c < d; ++c) {
      const double mean = size > 0 ? scales.to_double(c, sums[segment * d + c]) / size : 0.0;
      profiles.mean[segment * d + c] = mean;
      const double scale = model.scale.empty() ? 1.0 : model.scale[c];
      profiles.mean_standardized[segment * d + c] = size > 0 ? (mean - model.mean[c]) / scale : 0.0;
    }
  }
  return profiles;
}

BasketRules mine_basket_rules(const engine::Communicator& comm, const JobConfig& config, const BasketSource& baskets,
                              std::uint64_t basket_total, engine::PhaseTimers& timers, JobCheckpoints& checkpoints) {
  BasketRules found;
  found.min_support = absolute_min_support(config.itemsets.min_support, basket_total,
                                           fmt::format("the baskets ({}: itemsets.min_support)", config.config_path));
  if (auto itemsets = checkpoints.load_itemsets()) {
    found.itemsets = std::move(*itemsets);
  } else {
    io::TransactionCsr local = baskets();
    const fim::SetList<fim::ItemId> transactions{std::move(local.offsets), std::move(local.items)};
    const fim::PfpOptions pfp{.limits = {.min_support = found.min_support, .max_size = config.itemsets.max_size}};
    found.itemsets = fim::mine_frequent_itemsets(comm, transactions, pfp, timers);
    checkpoints.save_itemsets(found.itemsets);
  }
  spdlog::info("segment: {} frequent itemsets in {} baskets (support >= {} baskets)", found.itemsets.total,
               basket_total, found.min_support);
  found.rule_options = {.min_confidence = config.rules.min_confidence, .min_lift = config.rules.min_lift,
                        .top = config.rules.top};
  if (auto rules = checkpoints.load_rules()) {
    found.rules = std::move(*rules);
  } else {
    found.rules = rules::generate_rules(comm, found.itemsets, found.rule_options, timers);
    checkpoints.save_rules(found.rules);
  }
  spdlog::info("segment: {} association rules (confidence >= {}, lift >= {})", found.rules.total,
               config.rules.min_confidence, config.rules.min_lift);
  return found;
}

}  // namespace omniseg::jobs
