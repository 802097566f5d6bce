#include "jobs/doctor.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/block_distribution.hpp"
#include "engine/error_agreement.hpp"
#include "engine/errors.hpp"
#include "engine/mpi_environment.hpp"
#include "engine/phase_timers.hpp"
#include "engine/random.hpp"
#include "engine/wall_clock.hpp"
#include "io/hdf5_library.hpp"
#include "jobs/version.hpp"

namespace omniseg::jobs {
namespace {

using engine::Communicator;
using engine::ReduceOp;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// Nodes and the ranks on each, e.g. {"node1": [0, 1], "node2": [2, 3]}.
std::map<std::string, std::vector<int>> rank_layout(const Communicator& comm) {
  std::array<char, 256> name{};
  const std::string mine = Communicator::processor_name();
  std::copy_n(mine.begin(), std::min(mine.size(), name.size() - 1), name.begin());
  const auto names = comm.allgather(name);  // an array is a block: size() * 256 chars
  std::map<std::string, std::vector<int>> layout;
  for (int r = 0; r < comm.size(); ++r) layout[&names[static_cast<std::size_t>(r) * name.size()]].push_back(r);
  return layout;
}

// ---- checks: each returns true on every rank iff it passed on every rank -----------------

/// Value rank `source` puts at position `i` of its block for rank `target`.
std::int64_t planted(int source, int target, std::uint64_t i) {
  return std::int64_t{source} * 1'000'000 + std::int64_t{target} * 1'000 + static_cast<std::int64_t>(i);
}
/// Elements rank `source` sends to rank `target`: zero for some pairs, on purpose.
std::uint64_t planted_count(int source, int target) { return static_cast<std::uint64_t>((source + 2 * target) % 3); }

bool check_collectives(const Communicator& comm) {
  const int p = comm.size(), me = comm.rank();
  bool ok = true;

  // allreduce: sum of (r+1)^2 over ranks has a closed form.
  const auto sum = comm.allreduce(std::int64_t{me + 1} * (me + 1), ReduceOp::sum);
  ok &= sum == std::int64_t{p} * (p + 1) * (2 * p + 1) / 6;

  // allgatherv: rank r contributes r values (rank 0 none).
  std::vector<std::int64_t> block;
  for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(me); ++i) block.push_back(planted(me, 0, i));
  const auto gathered = comm.allgatherv(block);
  std::vector<std::int64_t> expected;
  for (int r = 0; r < p; ++r) {
    for (std::uint64_t i = 0; i < static_cast<std::uint64_t>(r); ++i) expected.push_back(planted(r, 0, i));
  }
  ok &= gathered.data == expected;

  // alltoallv with some empty blocks.
  std::vector<std::int64_t> send;
  std::vector<std::uint64_t> send_counts;
  for (int target = 0; target < p; ++target) {
    send_counts.push_back(planted_count(me, target));
    for (std::uint64_t i = 0; i < send_counts.back(); ++i) send.push_back(planted(me, target, i));
  }
  const auto received = comm.alltoallv(send, send_counts);
  expected.clear();
  for (int source = 0; source < p; ++source) {
    for (std::uint64_t i = 0; i < planted_count(source, me); ++i) expected.push_back(planted(source, me, i));
  }
  ok &= received.data == expected;
  return comm.all_of(ok);
}

/// Wrapping sum of the first draw of every global row, computed block-distributed and on one rank.
struct RandomCheck {
  bool passed = false;
  double draws_per_s = 0;
};

RandomCheck check_random(const Communicator& comm, std::uint64_t rows) {
  const engine::CounterRng rng(/*seed=*/20261124, /*stream=*/1);
  const auto mine = engine::BlockDistribution(rows, comm.size()).range(comm.rank());
  const double start = engine::wall_seconds();
  std::uint64_t local = 0;
  for (std::uint64_t row = mine.begin; row < mine.end; ++row) local += rng.draws(row).next_u64();
  const double elapsed = comm.allreduce(engine::wall_seconds() - start, ReduceOp::max);
  const std::uint64_t distributed = comm.allreduce(local, ReduceOp::sum);  // exact: integers mod 2^64

  std::uint64_t serial = 0;
  if (comm.is_root()) {
    for (std::uint64_t row = 0; row < rows; ++row) serial += rng.draws(row).next_u64();
  }
  comm.broadcast(serial);
  return {distributed == serial, elapsed > 0 ? static_cast<double>(rows) / elapsed : 0.0};
}

bool check_error_agreement(const Communicator& comm) {
  const int failing = comm.size() - 1;
  try {
    engine::collectively(comm, [&] {
      if (comm.rank() == failing) throw InputError("doctor: planted failure");
    });
  } catch (const CollectiveError& e) {
    const bool local_ok = e.origin_rank() == failing && e.exit_code() == exit_codes::bad_input &&
                          std::string(e.what()) == fmt::format("rank {} failed: doctor: planted failure", failing);
    return comm.all_of(local_ok);
  }
  return comm.all_of(false);
}

/// Median seconds of one 8-byte allreduce.
double measure_allreduce_latency_s(const Communicator& comm, int repetitions) {
  constexpr int kCalls = 1000;
  std::vector<double> batches;
  for (int rep = 0; rep < repetitions; ++rep) {
    comm.barrier();
    const double start = engine::wall_seconds();
    double value = 1.0;
    for (int i = 0; i < kCalls; ++i) value = comm.allreduce(value, ReduceOp::max);
    batches.push_back((engine::wall_seconds() - start) / kCalls);
  }
  return comm.allreduce(median(batches), ReduceOp::max);
}

/// Median bytes per second each rank sends in an all-to-all of `bytes` per rank.
double measure_alltoall_bandwidth(const Communicator& comm, std::uint64_t bytes, int repetitions) {
  const auto p = static_cast<std::uint64_t>(comm.size());
  const std::uint64_t words_per_peer = std::max<std::uint64_t>(1, bytes / p / sizeof(std::uint64_t));
  std::vector<std::uint64_t> send(words_per_peer * p, 0x9E3779B97F4A7C15ULL);
  std::vector<double> seconds;
  for (int rep = 0; rep < repetitions; ++rep) {
    comm.barrier();
    const double start = engine::wall_seconds();
    const auto received = comm.alltoall(send);
    seconds.push_back(comm.allreduce(engine::wall_seconds() - start, ReduceOp::max));
  }
  return static_cast<double>(send.size() * sizeof(std::uint64_t)) / median(seconds);
}

void fail_deliberately(const Communicator& comm, const DoctorOptions& options) {
  if (options.fail_on_rank >= comm.size()) {
    throw InputError(fmt::format("--fail-on-rank {}: the job has only {} ranks", options.fail_on_rank, comm.size()));
  }
  const bool failing = comm.rank() == options.fail_on_rank;
  const std::string message = fmt::format("deliberate failure on rank {} (--fail-on-rank, mode {})",
                                          options.fail_on_rank, options.fail_mode);
  if (options.fail_mode == "agreed") {
    // The failure happens where every rank meets next: every rank reports it and exits.
    engine::collectively(comm, [&] {
      if (failing) throw Error(message);
    });
  } else {
    // The peers block in a collective that the failed rank never joins: it must end the job.
    if (failing) throw Error(message);
    comm.barrier();
  }
}

}  // namespace

void add_doctor_command(CLI::App& app, Selection& selection) {
  auto options = std::make_shared<DoctorOptions>();
  auto* doctor = app.add_subcommand("doctor", "Check that this allocation can run omniseg: MPI, HDF5, "
                                              "collectives, deterministic random numbers, error handling");
  doctor->add_option("--random-rows", options->random_rows, "Rows in the random-draw check")->capture_default_str();
  doctor->add_option("--alltoall-bytes", options->alltoall_bytes, "Bytes each rank sends in the all-to-all benchmark")
      ->capture_default_str();
  doctor->add_option("--repetitions", options->repetitions, "Timed repetitions (the median is reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  doctor->add_option("--fail-on-rank", options->fail_on_rank,
                     "Deliberately fail this rank, to see how a failure ends the job")
      ->check(CLI::NonNegativeNumber);
  doctor->add_option("--fail-mode", options->fail_mode,
                     "agreed: fail where all ranks meet (clean, same message everywhere); stuck: fail while the "
                     "others wait in a collective (the failed rank aborts the job after --failure-grace-s)")
      ->check(CLI::IsMember({"agreed", "stuck"}))
      ->capture_default_str();
  doctor->callback([&selection, options] {
    selection.run = [options](const engine::Communicator& comm, const GlobalOptions&) { run_doctor(comm, *options); };
  });
}

void run_doctor(const engine::Communicator& comm, const DoctorOptions& options) {
  if (options.fail_on_rank >= 0) fail_deliberately(comm, options);

  engine::PhaseTimers timers(comm);
  const auto layout = rank_layout(comm);
  const auto hdf5 = io::hdf5_library_info();
  spdlog::info("{} on {} ranks, {} node(s)", version_line(), comm.size(), layout.size());
  for (const auto& [node, ranks] : layout) spdlog::info("  node {}: ranks {}", node, fmt::join(ranks, ","));
  spdlog::info("  MPI: {}", engine::MpiEnvironment::library_version());
  spdlog::info("  {}", hdf5.description());

  nlohmann::json checks;
  bool all_passed = true;
  auto report = [&](const std::string& name, bool passed, const std::string& detail) {
    all_passed &= passed;
    checks[name] = passed;
    spdlog::info("  check {:<28} {}{}", name, passed ? "ok" : "FAILED", detail.empty() ? "" : "  (" + detail + ")");
  };

  {
    auto phase = timers.phase("collectives");
    report("collectives", check_collectives(comm), "allreduce, allgatherv, alltoallv vs local references");
    auto small = comm.duplicate();
    small.set_limits({.max_elements_per_call = 3});
    report("collectives_in_pieces", check_collectives(small), "the same with messages split into 3-element pieces");
  }
  RandomCheck random;
  {
    auto phase = timers.phase("random");
    random = check_random(comm, options.random_rows);
    report("random_rank_independent", random.passed,
           fmt::format("{} rows, {:.0f} M draws/s", options.random_rows, random.draws_per_s / 1e6));
  }
  {
    auto phase = timers.phase("error_agreement");
    report("error_agreement", check_error_agreement(comm), "a failure on the last rank reaches every rank");
  }
  double latency_s = 0, bandwidth = 0;
  {
    auto phase = timers.phase("measure");
    latency_s = measure_allreduce_latency_s(comm, options.repetitions);
    bandwidth = measure_alltoall_bandwidth(comm, options.alltoall_bytes, options.repetitions);
    spdlog::info("  allreduce latency (8 B)          {:.2f} us (median of {})", latency_s * 1e6, options.repetitions);
    spdlog::info("  alltoall bandwidth per rank      {:.2f} GB/s ({} MiB per rank, median of {})", bandwidth / 1e9,
                 options.alltoall_bytes >> 20, options.repetitions);
  }
  const auto phases = timers.reduce();
  spdlog::info("phase times across ranks:\n{}", engine::format_table(phases));

  if (comm.is_root()) {
    nlohmann::json summary = {
        {"command", "doctor"},
        {"version", version()},
        {"git_sha", git_sha()},
        {"ranks", comm.size()},
        {"nodes", layout.size()},
        {"mpi", engine::MpiEnvironment::library_version()},
        {"hdf5", hdf5.description()},
        {"checks", checks},
        {"passed", all_passed},
        {"allreduce_latency_us", latency_s * 1e6},
        {"alltoall_bandwidth_gb_per_s", bandwidth / 1e9},
        {"random_draws_per_s", random.draws_per_s},
        {"phases", engine::to_json(phases)},
    };
    std::cout << summary.dump() << std::endl;
  }
  if (!all_passed) throw Error("doctor: some checks failed (see above)");
}

}  // namespace omniseg::jobs
