// engine/logging.hpp — rank-aware logging through spdlog.
//
// Owns: the process-wide default logger: plain text (no colour codes: under mpiexec stderr looks
// like a terminal even when redirected to a file) on stderr, each line prefixed with the rank.
// Rank 0 logs at the chosen level; other ranks log only critical messages unless all ranks are
// asked for. stdout is left to results (JSON summary lines).
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "engine/communicator.hpp"

namespace omniseg::engine {

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  bool all_ranks = false;  ///< every rank logs at `level`, not only rank 0
};

/// Installs the default logger for this rank.
void configure_logging(const Communicator& comm, const LogOptions& options);

/// "trace", "debug", "info", "warn", "error", "critical" or "off"; throws std::invalid_argument
/// naming the valid levels otherwise.
spdlog::level::level_enum parse_log_level(std::string_view name);

}  // namespace omniseg::engine
