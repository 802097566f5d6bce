#include "engine/progress.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>

#include "engine/wall_clock.hpp"

namespace omniseg::engine {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 1.0) return fmt::format("{}ms", static_cast<long>(std::lround(seconds * 1000)));
  const long whole = std::lround(seconds);
  if (whole < 60) return fmt::format("{}s", whole);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
}

std::string format_count(double count) {
  if (count < 1e3) return fmt::format("{}", static_cast<long long>(std::llround(count)));
  if (count < 1e6) return fmt::format("{:.1f}k", count / 1e3);
  if (count < 1e9) return fmt::format("{:.2f}M", count / 1e6);
  return fmt::format("{:.2f}G", count / 1e9);
}

Progress::Progress(std::string phase, std::uint64_t total, ProgressOptions options)
    : Progress(std::move(phase), total, std::move(options), wall_seconds,
               [](std::string_view line) { spdlog::info("{}", line); }) {}

Progress::Progress(std::string phase, std::uint64_t total, ProgressOptions options, Clock clock, Sink sink)
    : phase_(std::move(phase)),
      total_(total),
      options_(std::move(options)),
      clock_(std::move(clock)),
      sink_(std::move(sink)),
      start_s_(clock_()),
      last_print_s_(start_s_) {}

void Progress::advance(std::uint64_t count) {
  done_ += count;
  maybe_print();
}

void Progress::update(std::uint64_t done) {
  done_ = done;
  maybe_print();
}

void Progress::maybe_print() {
  const double now = clock_();
  if (now - last_print_s_ < options_.interval_s) return;
  last_print_s_ = now;
  sink_(status_line());
}

std::string Progress::status_line() const {
  const double elapsed = clock_() - start_s_;
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string line = fmt::format("{}: {}", phase_, format_count(static_cast<double>(done_)));
  if (total_ > 0) {
    line += fmt::format("/{} {} ({:.1f}%)", format_count(static_cast<double>(total_)), options_.unit,
                        100.0 * static_cast<double>(done_) / static_cast<double>(total_));
  } else {
    line += " " + options_.unit;
  }
  line += fmt::format(", {} {}/s", format_count(rate), options_.unit);
  if (total_ > 0 && rate > 0 && done_ < total_) {
    line += ", ETA " + format_duration(static_cast<double>(total_ - done_) / rate);
  }
  return line;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  const double elapsed = clock_() - start_s_;
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  sink_(fmt::format("{}: done, {} {} in {} ({} {}/s)", phase_, format_count(static_cast<double>(done_)),
                    options_.unit, format_duration(elapsed), format_count(rate), options_.unit));
}

}  // namespace omniseg::engine
