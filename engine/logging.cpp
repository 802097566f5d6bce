#include "engine/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <memory>
#include <stdexcept>

namespace omniseg::engine {

void configure_logging(const Communicator& comm, const LogOptions& options) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("omniseg", std::move(sink));
  const int width = static_cast<int>(std::to_string(comm.size() - 1).size());
  logger->set_pattern(fmt::format("[%Y-%m-%d %H:%M:%S.%e] [rank {:>{}}/{}] [%l] %v", comm.rank(), width,
                                  comm.size()));
  const bool speaks = comm.is_root() || options.all_ranks;
  logger->set_level(speaks ? options.level : spdlog::level::critical);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

spdlog::level::level_enum parse_log_level(std::string_view name) {
  struct Named {
    std::string_view name;
    spdlog::level::level_enum level;
  };
  static constexpr Named kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off},
  };
  for (const auto& named : kLevels) {
    if (named.name == name) return named.level;
  }
  throw std::invalid_argument("unknown log level '" + std::string(name) +
                              "' (use trace, debug, info, warn, error, critical or off)");
}

}  // namespace omniseg::engine
