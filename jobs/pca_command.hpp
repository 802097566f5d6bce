// jobs/pca_command.hpp — `omniseg pca`: principal components of an n × d matrix in HDF5 by TSQR.
//
// Reads each rank's block of rows (io/matrix_input.hpp), fits (algorithms/pca/pca.hpp), writes
// OUT.h5 (/pca/components, explained variance and ratio, singular values, mean, scale with
// --standardize, and the row-sharded projection) and prints one JSON summary line. Layout in
// docs/pca.md.
#pragma once

#include <CLI/App.hpp>
#include <cstdint>
#include <string>

#include "jobs/command_line.hpp"

namespace omniseg::jobs {

struct PcaCommandOptions {
  std::string input;  ///< FILE.h5:/dataset
  std::int64_t components = 0;
  bool standardize = false;
  std::string output;
  std::int64_t chunk_rows = 1024;  ///< rows per chunk of the QR tree (tuning)
  bool bypass_page_cache = true;   ///< outputs of at least 4 MiB a rank around the page cache (io::PageCacheBypass)
};

void add_pca_command(CLI::App& app, Selection& selection);

/// Collective.
void run_pca(const engine::Communicator& comm, const PcaCommandOptions& options);

}  // namespace omniseg::jobs
