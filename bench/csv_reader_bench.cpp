// omniseg_csv_reader_bench — throughput of the parallel CSV reader on a file you give it.
//
//   mpiexec -n P omniseg_csv_reader_bench FILE [--repeat R] [--chunk BYTES]
//
// Per repetition, each phase timed alone (the slowest rank's seconds; MB/s and records/s per rank):
//   read_csv_shard  all of this rank's records at once (the shard is reused across repetitions);
//   batches         CsvShardReader's batches, the records only (mapping, counting, scanning);
//   parse           the batches split into fields, and fields 1, 3, 4 as int64, 5 as a decimal of
//                   scale 4 and 6 as a timestamp when the record has six fields: the integration
//                   pipeline's work on an order file, without building its rows.
// The first repetition also pays first-touch of the buffers and of the file's pages. Not a test: no
// assertions on time; the checksum line only shows that every repetition saw the same values.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/mpi_environment.hpp"
#include "engine/wall_clock.hpp"
#include "io/csv_fields.hpp"
#include "io/csv_reader.hpp"

namespace {

using namespace omniseg;

struct Tally {
  std::uint64_t records = 0;
  std::uint64_t bytes = 0;     ///< record bytes, without line ends
  std::uint64_t bad = 0;       ///< records that are not six good fields
  std::uint64_t checksum = 0;  ///< of every parsed value
};

Tally tally_batches(const engine::Communicator& comm, const std::string& path, const io::CsvReadOptions& options) {
  Tally tally;
  io::CsvShardReader reader(comm, path, options);
  io::CsvShard batch;
  while (reader.next_batch(batch)) {
    tally.records += batch.size();
    for (const auto length : batch.record_length) tally.bytes += length;
  }
  return tally;
}

Tally tally_parse(const engine::Communicator& comm, const std::string& path, const io::CsvReadOptions& options) {
  Tally tally;
  io::CsvShardReader reader(comm, path, options);
  io::CsvShard batch;
  io::CsvRecordSplitter splitter(options.delimiter);
  while (reader.next_batch(batch)) {
    tally.records += batch.size();
    for (std::uint64_t i = 0; i < batch.size(); ++i) {
      tally.bytes += batch.record_length[i];
      if (splitter.split(batch.record(i)) != io::CsvRecordSplitter::Status::ok || splitter.fields().size() != 6) {
        ++tally.bad;
        continue;
      }
      const auto fields = splitter.fields();
      std::int64_t order = 0, item = 0, quantity = 0, price = 0, seconds = 0;
      const bool ok = io::parse_int64(fields[0], order) == io::FieldStatus::ok &&
                      io::parse_int64(fields[2], item) == io::FieldStatus::ok &&
                      io::parse_int64(fields[3], quantity) == io::FieldStatus::ok &&
                      io::parse_decimal(fields[4], 4, price) == io::FieldStatus::ok &&
                      io::parse_timestamp(fields[5], seconds) == io::FieldStatus::ok;
      if (!ok) ++tally.bad;
      tally.checksum += static_cast<std::uint64_t>(order + item + quantity + price + seconds) + fields[1].size();
    }
  }
  return tally;
}

}  // namespace

int main(int argc, char** argv) {
  engine::MpiEnvironment mpi(argc, argv);
  const engine::Communicator comm = engine::Communicator::world();
  if (argc < 2) {
    if (comm.is_root()) std::fprintf(stderr, "usage: omniseg_csv_reader_bench FILE [--repeat R] [--chunk BYTES]\n");
    return 2;
  }
  const std::string path = argv[1];
  int repeat = 3;
  io::CsvReadOptions options;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--repeat") repeat = std::atoi(argv[i + 1]);
    if (flag == "--chunk") options.scan_chunk_bytes = std::strtoull(argv[i + 1], nullptr, 10);
  }

  const auto report = [&](int repetition, const char* phase, double local_s, const Tally& local) {
    const double slowest_s = comm.allreduce(local_s, engine::ReduceOp::max);
    const std::uint64_t records = comm.allreduce(local.records, engine::ReduceOp::sum);
    const std::uint64_t bytes = comm.allreduce(local.bytes, engine::ReduceOp::sum);
    const std::uint64_t bad = comm.allreduce(local.bad, engine::ReduceOp::sum);
    const std::uint64_t checksum = comm.allreduce(local.checksum, engine::ReduceOp::sum);
    const double ranks = comm.size();
    if (comm.is_root()) {
      std::printf("repeat=%d phase=%-14s ranks=%d time_s=%.3f MB_per_s_per_rank=%.0f Mrecords_per_s_per_rank=%.2f "
                  "records=%llu MB=%.1f not_six_good_fields=%llu checksum=%llu\n",
                  repetition, phase, comm.size(), slowest_s, static_cast<double>(bytes) / ranks / slowest_s / 1e6,
                  static_cast<double>(records) / ranks / slowest_s / 1e6, static_cast<unsigned long long>(records),
                  static_cast<double>(bytes) / 1e6, static_cast<unsigned long long>(bad),
                  static_cast<unsigned long long>(checksum));
      std::fflush(stdout);
    }
  };

  io::CsvShard shard;
  for (int repetition = 0; repetition < repeat; ++repetition) {
    comm.barrier();
    double started = engine::wall_seconds();
    io::read_csv_shard(comm, path, shard, options);
    Tally whole{.records = shard.size()};
    for (const auto length : shard.record_length) whole.bytes += length;
    report(repetition, "read_csv_shard", engine::wall_seconds() - started, whole);

    comm.barrier();
    started = engine::wall_seconds();
    const Tally batches = tally_batches(comm, path, options);
    report(repetition, "batches", engine::wall_seconds() - started, batches);

    comm.barrier();
    started = engine::wall_seconds();
    const Tally parsed = tally_parse(comm, path, options);
    report(repetition, "parse", engine::wall_seconds() - started, parsed);
  }
  return 0;
}
