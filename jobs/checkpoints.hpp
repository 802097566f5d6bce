// jobs/checkpoints.hpp — the segmentation job's checkpoints: one HDF5 file per finished stage, K-means
// progress every N iterations, and resuming from them.
//
// Owns: what each checkpoint file holds and when it can be trusted. Files in the checkpoint
// directory, numbered in the order a resume loads them:
//   1-integrate.h5  features, feature names, the customers' split, rejects, accounting (integration
//                   is one restartable unit: its joins and shuffles hold no state worth saving
//                   halfway); written after 2 and 3, so that it need not hold the baskets
//   2-itemsets.h5   the frequent itemsets of the baskets
//   3-rules.h5      the association rules
//   4-pca.h5        the PCA model (projections are recomputed from it and the features)
//   kmeans-progress-NNNNNNNNN.h5  the K-means loop after global Lloyd iteration N (the last two kept)
//   5-kmeans.h5     the K-means fit (chosen labels and centroids, the k sweep)
// Each is written collectively (each rank its own rows) and atomically (io::write_file_atomically:
// temporary name, `complete`, rename), with root attributes `format`, `stage`, `fingerprint` (the
// lines of job_fingerprint that decide this stage's result: those of the inputs and features and of
// the stages of its chain up to it), `ranks`, `iteration`, and a checksum on every dataset
// (io/verified_datasets.hpp). Resuming loads, along each chain (see Chain), the longest prefix of
// valid stages: a missing file ends it; one that is incomplete, corrupt, truncated, of another
// format or of other settings is reported (a warning naming the file and what is wrong) and ends it
// too, so that stage is recomputed from the previous one. A damaged progress file falls back to the
// one before. Per-customer data is read back in the split it was written in when the rank count is
// the same, else re-sharded in blocks; other row data always in blocks. Every stage gives the same
// bits for any split, so a resumed job ends as an uninterrupted one would.
// Does not own: running the stages (jobs/segmentation.cpp, jobs/run_command.cpp), the algorithms'
// resumable state (kmeans::LloydSnapshot, KmeansFitState).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "algorithms/fim/pfp.hpp"
#include "algorithms/pca/pca.hpp"
#include "algorithms/rules/association_rules.hpp"
#include "engine/block_distribution.hpp"
#include "engine/communicator.hpp"
#include "engine/phase_timers.hpp"
#include "jobs/integrate_pipeline.hpp"
#include "jobs/job_config.hpp"
#include "jobs/kmeans_fit.hpp"

namespace omniseg::jobs {

/// Collective: the text that identifies a job's results — omniseg's version, every setting that
/// changes a result (inputs and their column mappings, features, PCA, K-means, itemsets, rules) and
/// each input file's size and modification time — one "key = value" line each. Output directory,
/// memory budget and checkpoint settings are left out: they do not change results.
[[nodiscard]] std::string job_fingerprint(const engine::Communicator& comm, const JobConfig& config);

/// The checkpoints of one job run. Every member is collective. With no directory configured, loads
/// return nothing and saves do nothing.
class JobCheckpoints {
 public:
  /// The integration feeds two independent chains of stages: baskets (itemsets, rules) and
  /// customers (PCA, K-means).
  enum class Chain : std::uint8_t { integration, baskets, customers };

  /// Creates the directory (rank 0) when one is configured.
  JobCheckpoints(const engine::Communicator& comm, const JobConfig& config, engine::PhaseTimers& timers);

  [[nodiscard]] bool enabled() const { return !directory_.empty(); }
  [[nodiscard]] const std::filesystem::path& directory() const { return directory_; }
  [[nodiscard]] std::uint64_t kmeans_interval() const { return kmeans_interval_; }
  /// Stages loaded from checkpoints and written in this run, in order, for the summary.
  [[nodiscard]] const std::vector<std::string>& loaded() const { return loaded_; }
  [[nodiscard]] const std::vector<std::string>& written() const { return written_; }

  // Each load returns nothing when it is not part of the valid prefix (see the file comment).

  /// The integration's result without its baskets (IntegrationResult::baskets stays empty); fixes
  /// the split of the customers that later per-customer loads use.
  [[nodiscard]] std::optional<IntegrationResult> load_integration();
  /// Call after the itemsets and rules (they are the baskets' only use).
  void save_integration(const IntegrationResult& integration);

  /// The model only: the projections are recomputed from it (one small GEMM per row block, the same
  /// bits on any split), which costs far less than writing and reading them.
  [[nodiscard]] std::optional<pca::PcaModel> load_pca();
  void save_pca(const pca::PcaModel& model);

  /// The newest usable progress file, or nothing (also when the chain ended before K-means).
  [[nodiscard]] std::optional<KmeansResumePoint> load_kmeans_progress();
  /// Writes kmeans-progress-N.h5 (N: Lloyd iterations of the whole fit so far) and keeps the
  /// newest two such files.
  void save_kmeans_progress(const KmeansFitState& state, const kmeans::LloydSnapshot& lloyd);
  [[nodiscard]] std::optional<KmeansFitResult> load_kmeans();
  /// Also removes the progress files.
  void save_kmeans(const KmeansFitResult& fit);

  [[nodiscard]] std::optional<fim::FrequentItemsets> load_itemsets();
  void save_itemsets(const fim::FrequentItemsets& itemsets);
  [[nodiscard]] std::optional<rules::AssociationRules> load_rules();
  void save_rules(const rules::AssociationRules& rules);

 private:
  /// Runs `load` on the opened file whose header says `stage`; a failure on any rank is reported
  /// and gives nothing. Ends the stage's chain when `ends_prefix` and nothing was loaded.
  template <class Load>
  auto attempt(std::string_view stage, const std::filesystem::path& path, Load&& load, bool ends_prefix = true)
      -> std::optional<decltype(load(std::declval<const io::File&>()))>;
  void save(std::string_view stage, const std::filesystem::path& path, std::uint64_t iteration,
            const std::function<void(io::File&)>& write);
  /// This rank's customers in a file whose customer split is `rows_per_rank`.
  [[nodiscard]] engine::RowRange customer_rows_for(const std::vector<std::uint64_t>& rows_per_rank) const;
  /// The progress files, oldest first: progress_files_on_root is rank 0's listing (not collective,
  /// empty elsewhere), progress_files every rank's copy of it.
  [[nodiscard]] std::vector<std::filesystem::path> progress_files_on_root() const;
  [[nodiscard]] std::vector<std::filesystem::path> progress_files() const;

  const engine::Communicator* comm_;
  engine::PhaseTimers* timers_;
  std::filesystem::path directory_;
  std::uint64_t kmeans_interval_ = 10;
  io::FileOptions file_options_;
  std::string fingerprint_;
  /// Whether resuming may go on along a chain: an unusable checkpoint ends its chain (and the
  /// integration's ends both), so later stages of that chain are computed again.
  [[nodiscard]] bool resuming(Chain chain) const;
  void stop_resuming(Chain chain);
  std::array<bool, 3> resuming_{true, true, true};
  engine::RowRange customer_rows_;  ///< set by load_integration / save_integration
  std::vector<std::string> loaded_, written_;
};

}  // namespace omniseg::jobs
