// csv_reader_bench FILE [REPEATS] — throughput of the parallel CSV reader, not a test (no
// assertions on time). Reads FILE collectively REPEATS times into one reused CsvShard (the first
// read also pays first-touch of the buffers), then splits every record and converts order-like
// columns (int64, int64, int64, decimal, timestamp: the first, third, fourth, fifth and sixth
// fields, when present). Prints per phase the slowest rank's seconds, and records/s and MB/s per rank.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/mpi_environment.hpp"
#include "io/csv_fields.hpp"
#include "io/csv_reader.hpp"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace omniseg;
  engine::MpiEnvironment mpi(argc, argv);
  const engine::Communicator comm = engine::Communicator::world();
  if (argc < 2) {
    if (comm.is_root()) std::fprintf(stderr, "usage: csv_reader_bench FILE [REPEATS]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 3;

  io::CsvShard shard;
  const auto report = [&](const char* phase, double local_s, std::uint64_t local_bytes) {
    const double slowest_s = comm.allreduce(local_s, engine::ReduceOp::max);
    const std::uint64_t records = shard.global_records;
    const double ranks = comm.size();
    if (comm.is_root()) {
      std::printf("%-22s ranks %d: %.3f s (slowest rank); per rank %.1f M records/s, %.0f MB/s; %llu records, %.1f MB\n",
                  phase, comm.size(), slowest_s, records / ranks / slowest_s / 1e6,
                  static_cast<double>(comm.allreduce(local_bytes, engine::ReduceOp::sum)) / ranks / slowest_s / 1e6,
                  static_cast<unsigned long long>(records),
                  static_cast<double>(comm.allreduce(local_bytes, engine::ReduceOp::sum)) / 1e6);
    }
  };

  for (int r = 0; r < repeats; ++r) {
    comm.barrier();
    const double start = now_s();
    io::read_csv_shard(comm, path, shard);
    const double read_s = now_s() - start;
    report(r == 0 ? "read (first)" : "read (buffers reused)", read_s, shard.text.size());
  }

  // Splitting and typed conversion, as the integration pipeline does for order files.
  io::CsvRecordSplitter splitter;
  std::vector<std::string_view> fields;
  std::uint64_t bad = 0, checksum = 0;
  comm.barrier();
  const double start = now_s();
  for (std::uint64_t i = 0; i < shard.size(); ++i) {
    if (splitter.split(shard.record(i), fields) != io::CsvRecordSplitter::Status::ok || fields.size() < 6) {
      ++bad;
      continue;
    }
    std::int64_t order = 0, item = 0, quantity = 0, price = 0, seconds = 0;
    const bool ok = io::parse_int64(fields[0], order) == io::FieldStatus::ok &&
                    io::parse_int64(fields[2], item) == io::FieldStatus::ok &&
                    io::parse_int64(fields[3], quantity) == io::FieldStatus::ok &&
                    io::parse_decimal(fields[4], 4, price) == io::FieldStatus::ok &&
                    io::parse_timestamp(fields[5], seconds) == io::FieldStatus::ok;
    if (!ok) ++bad;
    checksum += static_cast<std::uint64_t>(order + item + quantity + price + seconds) + fields[1].size();
  }
  const double convert_s = now_s() - start;
  std::uint64_t record_bytes = 0;
  for (const auto length : shard.record_length) record_bytes += length;
  report("split + convert", convert_s, record_bytes);
  const auto total_bad = comm.allreduce(bad, engine::ReduceOp::sum);
  const auto total_checksum = comm.allreduce(checksum, engine::ReduceOp::sum);
  if (comm.is_root()) {
    std::printf("rows not converted: %llu; checksum %llu\n", static_cast<unsigned long long>(total_bad),
                static_cast<unsigned long long>(total_checksum));
  }
  return 0;
}
