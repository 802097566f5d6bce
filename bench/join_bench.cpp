// omniseg_join_bench — throughput of engine::hash_join on order-line-shaped data.
//
//   mpiexec -n P omniseg_join_bench [--left N] [--right M] [--whale SHARE] [--strategy auto|shuffle|broadcast]
//                                   [--repeat R] [--budget BYTES]
//
// N left rows (48-byte records, string keys of 20-30 bytes, spread over the ranks) are left-joined
// with M right rows (16-byte records, unique keys); every left key exists on the right. With
// --whale S, a share S of the left rows carries one key. Prints, per repetition, the slowest rank's
// time and left rows per second per rank.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/hash_join.hpp"
#include "engine/mpi_environment.hpp"
#include "engine/random.hpp"
#include "engine/wall_clock.hpp"

namespace {

using namespace omniseg;

struct OrderLine {  // 48 bytes, like the pipeline's order lines
  std::int64_t order_id = 0;
  std::int64_t item_id = 0;
  std::int64_t ts_seconds = 0;
  std::int64_t value_units = 0;
  std::int64_t customer_id = 0;
  std::uint32_t category = 0;
  std::uint16_t channel = 0;
  std::uint8_t purchase = 0;
  std::uint8_t anonymous = 0;
};
struct Identity {
  std::int64_t customer_id = 0;
  std::uint8_t known = 0;
};

/// The key of customer k: a channel byte, a channel-specific prefix and ten digits (20-30 bytes).
void append_key(engine::StringColumn& keys, std::uint64_t k, std::string& scratch) {
  static const char* const prefixes[] = {"\x01web:cust-", "\x02" "app:user-id-", "\x03store:loyalty-card-"};
  scratch = prefixes[k % 3];
  char digits[10];
  for (int i = 9; i >= 0; --i, k /= 10) digits[i] = static_cast<char>('0' + k % 10);
  scratch.append(digits, 10);
  keys.push_back(scratch);
}

struct Options {
  std::uint64_t left = 10'000'000;
  std::uint64_t right = 2'000'000;
  double whale = 0;
  engine::JoinStrategy strategy = engine::JoinStrategy::automatic;
  int repeat = 3;
  std::uint64_t budget = 0;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--left") options.left = std::strtoull(value, nullptr, 10);
    else if (flag == "--right") options.right = std::strtoull(value, nullptr, 10);
    else if (flag == "--whale") options.whale = std::strtod(value, nullptr);
    else if (flag == "--repeat") options.repeat = std::atoi(value);
    else if (flag == "--budget") options.budget = std::strtoull(value, nullptr, 10);
    else if (flag == "--strategy") {
      const std::string s = value;
      options.strategy = s == "shuffle" ? engine::JoinStrategy::shuffle
                         : s == "broadcast" ? engine::JoinStrategy::broadcast_right
                                            : engine::JoinStrategy::automatic;
    }
  }
  return options;
}

const char* name(engine::JoinStrategy strategy) {
  switch (strategy) {
    case engine::JoinStrategy::automatic: return "automatic";
    case engine::JoinStrategy::shuffle: return "shuffle";
    case engine::JoinStrategy::broadcast_right: return "broadcast";
    case engine::JoinStrategy::colocated: return "colocated";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  engine::MpiEnvironment mpi(argc, argv);
  const auto comm = engine::Communicator::world();
  const Options options = parse(argc, argv);
  const auto ranks = static_cast<std::uint64_t>(comm.size());
  const auto rank = static_cast<std::uint64_t>(comm.rank());
  const std::uint64_t left_begin = options.left * rank / ranks, left_end = options.left * (rank + 1) / ranks;
  const std::uint64_t right_begin = options.right * rank / ranks, right_end = options.right * (rank + 1) / ranks;
  const engine::CounterRng rng(7, 1);
  std::string scratch;

  for (int repetition = 0; repetition < options.repeat; ++repetition) {
    engine::JoinSide<OrderLine, engine::StringColumn> left;
    engine::JoinSide<Identity, engine::StringColumn> right;
    left.rows.reserve(left_end - left_begin);
    left.keys.reserve(left_end - left_begin, 28 * (left_end - left_begin));
    left.spread.reserve(left_end - left_begin);
    for (std::uint64_t g = left_begin; g < left_end; ++g) {
      auto draws = rng.draws(g);
      const bool whale = options.whale > 0 && draws.uniform() < options.whale;
      const std::uint64_t customer = whale ? 0 : draws.below(options.right);
      OrderLine line;
      line.order_id = static_cast<std::int64_t>(g / 5);
      line.item_id = static_cast<std::int64_t>(g % 1000);
      line.value_units = static_cast<std::int64_t>(g);
      line.channel = static_cast<std::uint16_t>(customer % 3);
      left.rows.push_back(line);
      append_key(left.keys, customer, scratch);
      left.spread.push_back(engine::mix64(static_cast<std::uint64_t>(line.order_id)));
    }
    right.rows.reserve(right_end - right_begin);
    right.keys.reserve(right_end - right_begin, 28 * (right_end - right_begin));
    for (std::uint64_t k = right_begin; k < right_end; ++k) {
      right.rows.push_back({.customer_id = static_cast<std::int64_t>(k), .known = 1});
      append_key(right.keys, k, scratch);
    }
    engine::JoinOptions join_options{.kind = engine::JoinKind::left, .strategy = options.strategy};
    join_options.budget.bytes_per_rank = options.budget;
    comm.barrier();
    const double started = engine::wall_seconds();
    const auto result = engine::hash_join(comm, std::move(left), std::move(right), join_options);
    const double local_s = engine::wall_seconds() - started;
    const double slowest_s = comm.allreduce(local_s, engine::ReduceOp::max);
    std::uint64_t matched = 0;
    for (const auto m : result.matched) matched += m;
    const std::uint64_t out_rows = comm.allreduce(static_cast<std::uint64_t>(result.left.size()), engine::ReduceOp::sum);
    const std::uint64_t all_matched = comm.allreduce(matched, engine::ReduceOp::sum);
    const std::uint64_t most_rows = comm.allreduce(static_cast<std::uint64_t>(result.left.size()), engine::ReduceOp::max);
    if (comm.is_root()) {
      std::printf(
          "ranks=%d left=%llu right=%llu whale=%.2f strategy=%s heavy_keys=%llu rounds=%llu out=%llu matched=%llu "
          "max_rank_rows=%llu time_s=%.3f lines_per_s_per_rank=%.3g\n",
          comm.size(), static_cast<unsigned long long>(options.left), static_cast<unsigned long long>(options.right),
          options.whale, name(result.report.strategy), static_cast<unsigned long long>(result.report.heavy_keys),
          static_cast<unsigned long long>(result.report.rounds), static_cast<unsigned long long>(out_rows),
          static_cast<unsigned long long>(all_matched), static_cast<unsigned long long>(most_rows), slowest_s,
          static_cast<double>(options.left) / slowest_s / static_cast<double>(ranks));
      std::fflush(stdout);
    }
  }
  return 0;
}
