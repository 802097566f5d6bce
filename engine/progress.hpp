// engine/progress.hpp — progress lines for long phases: done/total, rate and ETA.
//
// Owns: when to print and what the line says. It does not communicate: callers pass the numbers
// they have (a rank's own rows, or a global iteration count) and, as with every log line, only
// the ranks that log (rank 0 by default) print.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace omniseg::engine {

struct ProgressOptions {
  double interval_s = 10.0;  ///< at most one line per interval (plus the final one)
  std::string unit = "rows";
};

class Progress {
 public:
  using Clock = std::function<double()>;                  ///< seconds, monotonic
  using Sink = std::function<void(std::string_view line)>;

  /// `total` may be 0 when unknown (then no percentage or ETA).
  Progress(std::string phase, std::uint64_t total, ProgressOptions options = {});
  /// For tests and special sinks: an explicit clock and line sink.
  Progress(std::string phase, std::uint64_t total, ProgressOptions options, Clock clock, Sink sink);

  /// Adds `count` to the amount done; prints if the interval has passed.
  void advance(std::uint64_t count = 1);
  /// Sets the amount done; prints if the interval has passed.
  void update(std::uint64_t done);
  /// Prints the closing line (amount, time, rate) once.
  void finish();

  [[nodiscard]] std::uint64_t done() const { return done_; }
  /// The line that would be printed now.
  [[nodiscard]] std::string status_line() const;

 private:
  void maybe_print();

  std::string phase_;
  std::uint64_t total_;
  ProgressOptions options_;
  Clock clock_;
  Sink sink_;
  double start_s_;
  double last_print_s_;
  std::uint64_t done_ = 0;
  bool finished_ = false;
};

/// "950ms", "42s", "3m05s", "2h07m": a duration for humans.
std::string format_duration(double seconds);
/// "950", "12.3k", "4.56M", "1.20G": a count for humans.
std::string format_count(double count);

}  // namespace omniseg::engine
