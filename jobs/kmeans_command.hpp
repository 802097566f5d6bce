// jobs/kmeans_command.hpp — `omniseg kmeans`: K-means of an n × d HDF5 matrix over all ranks.
//
// Reads the rank's row block (io/matrix_input.hpp), seeds with k-means++ or k-means||
// (algorithms/kmeans/init.hpp) or reads initial centres, runs Lloyd with exact sums
// (algorithms/kmeans/lloyd.hpp) --n-init times keeping the lowest inertia, for one k or a sweep
// A:B scored by algorithms/kmeans/quality.hpp, writes OUT.h5 (/kmeans: centroids, labels, sizes;
// layout in docs/kmeans.md) and prints one JSON summary line.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "jobs/command_line.hpp"

namespace omniseg::jobs {

struct KmeansCommandOptions {
  std::string input;                ///< FILE.h5:/X
  std::string k;                    ///< "K" or a sweep "A:B" (both ends included)
  std::string init = "k-means++";   ///< or "k-means||"
  std::string init_centers;         ///< FILE.h5:/C (K × d); replaces --init
  std::int64_t max_iter = 300;
  double tol = 1e-4;                ///< largest centre shift (Euclidean, absolute) that ends the run
  std::int64_t n_init = 1;          ///< restarts per k; the lowest inertia wins
  std::uint64_t seed = 0;
  std::string pruning = "auto";     ///< auto, hamerly or none (see algorithms/kmeans/lloyd.hpp)
  std::string output;
};

/// The k values of --k: one ("8") or a range ("4:16", first <= last). Throws InputError naming
/// --k for anything else, zero or negative values included.
struct KRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  [[nodiscard]] bool sweep() const { return last > first; }
};
[[nodiscard]] KRange parse_k_range(std::string_view text);

void add_kmeans_command(CLI::App& app, Selection& selection);

/// Collective.
void run_kmeans(const engine::Communicator& comm, const KmeansCommandOptions& options);

}  // namespace omniseg::jobs
