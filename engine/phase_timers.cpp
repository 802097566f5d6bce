#include "engine/phase_timers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/errors.hpp"
#include "engine/wall_clock.hpp"

namespace omniseg::engine {
namespace {

/// FNV-1a over the phase names, to check that ranks timed the same phases.
std::uint64_t fingerprint(const std::vector<std::string>& names) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (const auto& name : names) {
    for (unsigned char c : name + '\0') hash = (hash ^ c) * 1099511628211ULL;
  }
  return hash;
}

}  // namespace

PhaseTimers::Scope::Scope(PhaseTimers& timers, std::size_t index)
    : timers_(timers), index_(index), start_s_(wall_seconds()) {}

PhaseTimers::Scope::~Scope() {
  timers_.seconds_[index_] += wall_seconds() - start_s_;
  timers_.entries_[index_] += 1;
}

PhaseTimers::Scope PhaseTimers::phase(const std::string& name) {
  comm_->barrier();
  auto found = std::find(names_.begin(), names_.end(), name);
  const auto index = static_cast<std::size_t>(found - names_.begin());
  if (found == names_.end()) {
    names_.push_back(name);
    seconds_.push_back(0.0);
    entries_.push_back(0);
  }
  return Scope(*this, index);
}

std::vector<PhaseStats> PhaseTimers::reduce() const {
  const std::uint64_t local_print[2] = {names_.size(), fingerprint(names_)};
  const auto prints = comm_->allgather(std::span<const std::uint64_t>(local_print));
  for (int r = 1; r < comm_->size(); ++r) {
    const auto i = static_cast<std::size_t>(2 * r);
    if (prints[i] != prints[0] || prints[i + 1] != prints[1]) {
      // Every rank sees the same gathered values, so every rank throws this same error.
      throw Error(fmt::format("phase timers: rank {} timed {} phases, rank 0 timed {}, or in another order",
                              r, prints[i], prints[0]));
    }
  }
  const auto all_seconds = comm_->allgather(seconds_);
  const auto all_entries = comm_->allreduce(entries_, ReduceOp::max);
  const std::size_t phases = names_.size();
  std::vector<PhaseStats> stats(phases);
  for (std::size_t p = 0; p < phases; ++p) {
    PhaseStats& s = stats[p];
    s.name = names_[p];
    s.entries = all_entries[p];
    s.min_s = s.max_s = all_seconds[p];
    double total = 0;
    for (int r = 0; r < comm_->size(); ++r) {
      const double t = all_seconds[static_cast<std::size_t>(r) * phases + p];
      total += t;
      s.min_s = std::min(s.min_s, t);
      if (t > s.max_s) {
        s.max_s = t;
        s.max_rank = r;
      }
    }
    s.avg_s = total / comm_->size();
  }
  return stats;
}

nlohmann::json to_json(std::span<const PhaseStats> phases) {
  auto list = nlohmann::json::array();
  for (const auto& p : phases) {
    list.push_back({{"phase", p.name}, {"entries", p.entries}, {"min_s", p.min_s}, {"avg_s", p.avg_s},
                    {"max_s", p.max_s}, {"max_rank", p.max_rank}});
  }
  return list;
}

std::string format_table(std::span<const PhaseStats> phases) {
  std::size_t width = 5;
  for (const auto& p : phases) width = std::max(width, p.name.size());
  std::string table = fmt::format("{:<{}}  {:>7}  {:>10}  {:>10}  {:>10}  {:>8}", "phase", width, "entries",
                                  "min s", "avg s", "max s", "max rank");
  for (const auto& p : phases) {
    table += fmt::format("\n{:<{}}  {:>7}  {:>10.4f}  {:>10.4f}  {:>10.4f}  {:>8}", p.name, width, p.entries,
                         p.min_s, p.avg_s, p.max_s, p.max_rank);
  }
  return table;
}

}  // namespace omniseg::engine
