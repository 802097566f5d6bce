// jobs/input_tables.hpp — the integration pipeline's input files as typed rows.
//
// Owns: turning each CSV export (customers, identity map, item catalog, order lines) into
// fixed-size typed rows, through the role → column mapping of the job config; every record that
// cannot be used becomes a RejectRecord with a reason, so that each record read ends up in exactly
// one place. Each rank parses only the records of its own byte range (io::read_csv_shard).
// Does not own: the CSV dialect (io/csv_reader.hpp), the field syntax (io/csv_fields.hpp), or
// anything that needs other rows (duplicates, joins: jobs/integrate_pipeline.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/communicator.hpp"
#include "engine/string_column.hpp"
#include "io/csv_reader.hpp"
#include "io/reject_log.hpp"
#include "jobs/job_config.hpp"

namespace omniseg::jobs {

/// Where a row came from: enough to name it in rejects.csv and to read its raw text back.
struct RowOrigin {
  std::uint64_t line_number = 0;  ///< 1-based, the record's first line
  std::uint64_t file_offset = 0;  ///< of the record's first byte
  std::uint32_t length = 0;       ///< record bytes without the line end (capped at 2^32 - 1)
  std::uint32_t file_index = 0;   ///< index into InputFiles
};

[[nodiscard]] io::RejectRecord reject_of(const RowOrigin& origin, io::RejectReason reason,
                                         std::uint16_t column = io::no_column);

/// The job's input files in a fixed order: customers, identity, items, then the order files.
struct InputFiles {
  static constexpr std::uint32_t customers = 0, identity = 1, items = 2, first_orders = 3;
  std::vector<const CsvInputConfig*> inputs;
  explicit InputFiles(const JobConfig& config);
  [[nodiscard]] std::size_t size() const { return inputs.size(); }
};

struct CustomerRow {
  std::int64_t customer_id = 0;
  std::int32_t signup_days = 0;
  std::uint32_t pad = 0;
  RowOrigin origin;
};

struct ItemRow {
  std::int64_t item_id = 0;
  std::uint32_t category = 0;  ///< index into the local category names until made global
  std::uint32_t pad = 0;
  RowOrigin origin;
};

/// An identity row; its key (channel index byte + channel key) is kept beside it in a StringColumn.
struct IdentityRow {
  std::int64_t customer_id = 0;
  RowOrigin origin;
};

struct OrderLine {
  std::int64_t order_id = 0;
  std::int64_t item_id = 0;
  std::int64_t ts_seconds = 0;
  std::int64_t value_units = 0;  ///< quantity × unit price, money units of 1e-4
  std::uint32_t category = 0;    ///< set by the item join
  std::uint16_t channel = 0;
  std::uint8_t purchase = 0;     ///< quantity > 0
  std::uint8_t anonymous = 0;    ///< empty channel key
  RowOrigin origin;
};


/// Rows parsed by this rank, plus the records it rejected.
struct ParsedCustomers {
  std::vector<CustomerRow> rows;
};
struct ParsedItems {
  std::vector<ItemRow> rows;
  std::vector<std::string> category_names;  ///< local dictionary: rows[i].category indexes it
};
struct ParsedIdentity {
  std::vector<IdentityRow> rows;
  engine::StringColumn keys;
};
struct ParsedOrders {
  std::vector<OrderLine> lines;  ///< all order files of this rank
  engine::StringColumn keys;     ///< keys[i] is lines[i]'s join key (just the channel byte for anonymous lines)
};

/// Per file: records read by this rank (the pipeline sums them).
struct ReadCounts {
  std::vector<std::uint64_t> records;
};

/// Collective readers: each reads its file(s) in parallel, appends rejects, counts records read.
/// `shard` is a buffer reused across files.
ParsedCustomers read_customers(const engine::Communicator& comm, const JobConfig& config, io::CsvShard& shard,
                               std::vector<io::RejectRecord>& rejects, ReadCounts& counts);
ParsedItems read_items(const engine::Communicator& comm, const JobConfig& config, io::CsvShard& shard,
                       std::vector<io::RejectRecord>& rejects, ReadCounts& counts);
/// `channels`: the configured channel names; an identity row with another channel is rejected.
ParsedIdentity read_identity(const engine::Communicator& comm, const JobConfig& config,
                             const std::vector<std::string>& channels, io::CsvShard& shard,
                             std::vector<io::RejectRecord>& rejects, ReadCounts& counts);
ParsedOrders read_orders(const engine::Communicator& comm, const JobConfig& config,
                         const std::vector<std::string>& channels, io::CsvShard& shard,
                         std::vector<io::RejectRecord>& rejects, ReadCounts& counts);

/// The channel names of the config, in order of first appearance.
[[nodiscard]] std::vector<std::string> channel_names(const JobConfig& config);

/// The column names printed in rejects.csv for each file: the mapped columns in role order.
[[nodiscard]] std::vector<std::vector<std::string>> reject_column_names(const InputFiles& files);

}  // namespace omniseg::jobs
