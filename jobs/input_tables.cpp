#include "jobs/input_tables.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include "engine/errors.hpp"
#include "io/csv_fields.hpp"

namespace omniseg::jobs {
namespace {

using io::RejectReason;

/// What is wrong with a record: the reason and the role (column) it concerns.
struct Problem {
  RejectReason reason;
  std::uint16_t role = io::no_column;
};
using Outcome = std::optional<Problem>;

/// Money has four decimal places (docs/formats.md): exact integer sums need a fixed scale.
constexpr int money_scale = 4;
/// Quantities beyond this are not order lines but typos; they would also risk overflow.
constexpr std::int64_t max_abs_quantity = 1'000'000'000;

/// The fields of one record by role: a role the file lacks (an optional column) reads as empty.
/// Looked up in place rather than copied into role order: the copy re-read each field right after
/// the splitter stored it, a store forwarding stall per field.
class RoleFields {
 public:
  RoleFields(std::span<const std::string_view> fields, std::span<const std::size_t> column_of_role)
      : fields_(fields), column_of_role_(column_of_role) {}
  static constexpr std::size_t absent = std::numeric_limits<std::size_t>::max();
  std::string_view operator[](std::size_t role) const {
    const std::size_t column = column_of_role_[role];
    return column == absent ? std::string_view() : fields_[column];
  }

 private:
  std::span<const std::string_view> fields_;
  std::span<const std::size_t> column_of_role_;
};

/// Splits the records of one file and hands the fields of each well-formed record, in role order,
/// to a row parser; structural problems (blank line, bad quoting, wrong column count) are rejected
/// here, once for every kind of file. Records come batch by batch from a CsvShardReader, each
/// parsed while its bytes are still in cache.
class RecordParser {
 public:
  RecordParser(const io::CsvShardReader& reader, const CsvInputConfig& input, std::uint32_t file_index,
               std::vector<io::RejectRecord>& rejects)
      : columns_(reader.header().size()), file_index_(file_index), rejects_(rejects) {
    // Optional roles the config left out are read only when the header has such a column.
    std::vector<std::pair<std::string, std::string>> wanted;
    std::vector<bool> present;
    const auto& header = reader.header();
    for (const auto& [role, column] : input.columns) {
      const bool defaulted = std::ranges::find(input.optional_roles_defaulted, role) != input.optional_roles_defaulted.end();
      const bool in_header = std::ranges::find(header, column) != header.end();
      present.push_back(!defaulted || in_header);
      if (present.back()) wanted.emplace_back(role, column);
    }
    const std::vector<std::size_t> mapped = io::map_columns(reader.file_name(), header, wanted);
    std::size_t next = 0;
    for (const bool is_present : present) column_of_role_.push_back(is_present ? mapped[next++] : RoleFields::absent);
  }

  /// Reads every remaining record of `reader` through `batch` (a reused buffer) and returns their
  /// number. `parse_row(origin, fields)` (fields: RoleFields) returns a Problem or nothing (the row
  /// was used).
  template <class ParseRow>
  std::uint64_t for_each(io::CsvShardReader& reader, io::CsvShard& batch, ParseRow parse_row) {
    std::uint64_t records = 0;
    while (reader.next_batch(batch)) {
      records += batch.size();
      for (std::uint64_t i = 0; i < batch.size(); ++i) parse_record(batch, i, parse_row);
    }
    return records;
  }

 private:
  template <class ParseRow>
  void parse_record(const io::CsvShard& batch, std::uint64_t i, ParseRow& parse_row) {
    const std::string_view record = batch.record(i);
    const RowOrigin origin{.line_number = batch.line_number[i],
                           .file_offset = batch.file_offset[i],
                           .length = static_cast<std::uint32_t>(std::min<std::uint64_t>(
                               batch.record_length[i], std::numeric_limits<std::uint32_t>::max())),
                           .file_index = file_index_};
    Outcome problem;
    if (record.empty()) {
      problem = Problem{RejectReason::empty_line};
    } else if (splitter_.split(record) != io::CsvRecordSplitter::Status::ok) {
      problem = Problem{RejectReason::bad_quoting};
    } else if (splitter_.fields().size() != columns_) {
      problem = Problem{RejectReason::wrong_column_count};
    } else {
      problem = parse_row(origin, RoleFields(splitter_.fields(), column_of_role_));
    }
    if (problem) rejects_.push_back(reject_of(origin, problem->reason, problem->role));
  }

  std::size_t columns_;
  std::uint32_t file_index_;
  std::vector<io::RejectRecord>& rejects_;
  std::vector<std::size_t> column_of_role_;
  io::CsvRecordSplitter splitter_;
};

/// Field parsers: nothing when the value is good, else the reason naming the role. Always inlined:
/// an Outcome returned from a call is built in memory byte by byte and read back whole, a store
/// forwarding stall that cost more than parsing the number.
[[gnu::always_inline]] inline Outcome integer_field(std::string_view text, std::uint16_t role, std::int64_t& value) {
  switch (io::parse_int64(text, value)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_number, role};
}
[[gnu::always_inline]] inline Outcome money_field(std::string_view text, std::uint16_t role, std::int64_t& units) {
  switch (io::parse_decimal(text, money_scale, units)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_number, role};
}
[[gnu::always_inline]] inline Outcome date_field(std::string_view text, std::uint16_t role, std::int32_t& days) {
  switch (io::parse_date(text, days)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_date, role};
}
[[gnu::always_inline]] inline Outcome timestamp_field(std::string_view text, std::uint16_t role, std::int64_t& seconds) {
  switch (io::parse_timestamp(text, seconds)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_timestamp, role};
}

/// Join keys of identity rows and order lines: the channel index as one byte (the config allows at
/// most 250 channels), then the channel key. Keys gather in a small reused buffer that goes into the column with
/// one append_block, not two small copies and a vector insert per key. The column holds every key
/// once flush() has run.
class ChannelKeyAppender {
 public:
  explicit ChannelKeyAppender(engine::StringColumn& keys) : keys_(keys) {}
  void append(std::uint16_t channel, std::string_view channel_key) {
    bytes_ += static_cast<char>(channel);
    bytes_ += channel_key;
    lengths_.push_back(channel_key.size() + 1);
    if (bytes_.size() >= flush_bytes) flush();
  }
  void flush() {
    keys_.append_block(lengths_, bytes_);
    bytes_.clear();
    lengths_.clear();
  }

 private:
  static constexpr std::size_t flush_bytes = std::size_t{1} << 18;
  engine::StringColumn& keys_;
  std::string bytes_;
  std::vector<std::uint64_t> lengths_;
};

/// a == b for texts like timestamps, without a call to memcmp: equal sizes, and for 8 to 24 bytes
/// two or three (overlapping) 8-byte words.
[[gnu::always_inline]] inline bool same_short_text(std::string_view a, std::string_view b) {
  const std::size_t size = a.size();
  if (size != b.size()) return false;
  if (size < 8 || size > 24) return a == b;
  const auto word = [](const char* p) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, sizeof w);
    return w;
  };
  const std::size_t middle = size > 16 ? 8 : 0;
  return ((word(a.data()) ^ word(b.data())) | (word(a.data() + middle) ^ word(b.data() + middle)) |
          (word(a.data() + size - 8) ^ word(b.data() + size - 8))) == 0;
}

std::uint16_t channel_index(const std::vector<std::string>& channels, std::string_view name) {
  const auto found = std::ranges::find(channels, name);
  return found == channels.end() ? std::numeric_limits<std::uint16_t>::max()
                                 : static_cast<std::uint16_t>(found - channels.begin());
}

}  // namespace

io::RejectRecord reject_of(const RowOrigin& origin, io::RejectReason reason, std::uint16_t column) {
  return io::RejectRecord{.file_index = origin.file_index, .reason = reason, .column = column,
                          .line_number = origin.line_number, .file_offset = origin.file_offset,
                          .length = origin.length};
}

InputFiles::InputFiles(const JobConfig& config) {
  inputs = {&config.customers, &config.identity, &config.items};
  for (const auto& order : config.orders) inputs.push_back(&order);
}

std::vector<std::string> channel_names(const JobConfig& config) {
  std::vector<std::string> names;
  for (const auto& order : config.orders) {
    if (std::ranges::find(names, order.channel) == names.end()) names.push_back(order.channel);
  }
  return names;
}

std::vector<std::vector<std::string>> reject_column_names(const InputFiles& files) {
  std::vector<std::vector<std::string>> names;
  for (const auto* input : files.inputs) {
    std::vector<std::string> columns;
    for (const auto& [role, column] : input->columns) columns.push_back(column);
    names.push_back(std::move(columns));
  }
  return names;
}

ParsedCustomers read_customers(const engine::Communicator& comm, const JobConfig& config, io::CsvShard& shard,
                               std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  io::CsvShardReader reader(comm, config.customers.path);
  ParsedCustomers parsed;
  parsed.rows.reserve(reader.max_records());
  RecordParser parser(reader, config.customers, InputFiles::customers, rejects);
  enum Role : std::uint16_t { customer_id, signup_date };  // customer_roles() order
  const auto parse_customer = [&](const RowOrigin& origin, const RoleFields& fields) -> Outcome {
    CustomerRow row{.origin = origin};
    if (auto problem = integer_field(fields[customer_id], customer_id, row.customer_id)) return problem;
    if (auto problem = date_field(fields[signup_date], signup_date, row.signup_days)) return problem;
    parsed.rows.push_back(row);
    return std::nullopt;
  };
  counts.records[InputFiles::customers] += parser.for_each(reader, shard, parse_customer);
  return parsed;
}

ParsedItems read_items(const engine::Communicator& comm, const JobConfig& config, io::CsvShard& shard,
                       std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  io::CsvShardReader reader(comm, config.items.path);
  ParsedItems parsed;
  parsed.rows.reserve(reader.max_records());
  std::map<std::string, std::uint32_t, std::less<>> category_index;
  RecordParser parser(reader, config.items, InputFiles::items, rejects);
  enum Role : std::uint16_t { item_id, category, brand, list_price };  // item_roles() order
  const auto parse_item = [&](const RowOrigin& origin, const RoleFields& fields) -> Outcome {
    ItemRow row{.origin = origin};
    if (auto problem = integer_field(fields[item_id], item_id, row.item_id)) return problem;
    if (fields[category].empty()) return Problem{RejectReason::missing_value, category};
    // Category names travel '\0'-separated between ranks and become HDF5 strings: no NUL inside.
    if (fields[category].find('\0') != std::string_view::npos) return Problem{RejectReason::bad_value, category};
    if (!fields[list_price].empty()) {
      std::int64_t units = 0;
      if (auto problem = money_field(fields[list_price], list_price, units)) return problem;
    }
    auto found = category_index.find(fields[category]);
    if (found == category_index.end()) {
      found = category_index.emplace(std::string(fields[category]), static_cast<std::uint32_t>(parsed.category_names.size())).first;
      parsed.category_names.emplace_back(fields[category]);
    }
    row.category = found->second;
    parsed.rows.push_back(row);
    return std::nullopt;
  };
  counts.records[InputFiles::items] += parser.for_each(reader, shard, parse_item);
  return parsed;
}

ParsedIdentity read_identity(const engine::Communicator& comm, const JobConfig& config,
                             const std::vector<std::string>& channels, io::CsvShard& shard,
                             std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  io::CsvShardReader reader(comm, config.identity.path);
  ParsedIdentity parsed;
  parsed.rows.reserve(reader.max_records());
  // A key is a channel byte and the channel key: never longer than its record plus one.
  parsed.keys.reserve(reader.max_records(), reader.range_bytes() + reader.max_records());
  RecordParser parser(reader, config.identity, InputFiles::identity, rejects);
  ChannelKeyAppender keys(parsed.keys);
  enum Role : std::uint16_t { channel, channel_key, customer_id };  // identity_roles() order
  const auto parse_identity = [&](const RowOrigin& origin, const RoleFields& fields) -> Outcome {
    IdentityRow row{.origin = origin};
    if (fields[channel].empty()) return Problem{RejectReason::missing_value, channel};
    const std::uint16_t channel_number = channel_index(channels, fields[channel]);
    if (channel_number == std::numeric_limits<std::uint16_t>::max()) return Problem{RejectReason::bad_value, channel};
    if (fields[channel_key].empty()) return Problem{RejectReason::missing_value, channel_key};
    if (auto problem = integer_field(fields[customer_id], customer_id, row.customer_id)) return problem;
    keys.append(channel_number, fields[channel_key]);
    parsed.rows.push_back(row);
    return std::nullopt;
  };
  counts.records[InputFiles::identity] += parser.for_each(reader, shard, parse_identity);
  keys.flush();
  return parsed;
}

ParsedOrders read_orders(const engine::Communicator& comm, const JobConfig& config,
                         const std::vector<std::string>& channels, io::CsvShard& shard,
                         std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  // Open every order file first (mapping costs no memory), so that the lines and keys of all of
  // them are reserved at once: growing them file by file would copy and first-touch them again.
  std::vector<io::CsvShardReader> readers;
  std::uint64_t max_lines = 0, max_key_bytes = 0;
  for (const OrderInputConfig& input : config.orders) {
    readers.emplace_back(comm, input.path);
    max_lines += readers.back().max_records();
    // A key is a channel byte and the channel key: never longer than its record plus one.
    max_key_bytes += readers.back().range_bytes() + readers.back().max_records();
  }
  ParsedOrders parsed;
  parsed.lines.reserve(max_lines);
  parsed.keys.reserve(max_lines, max_key_bytes);
  ChannelKeyAppender keys(parsed.keys);
  // The lines of one order usually follow each other with the same timestamp text: parse it once.
  std::string_view last_ts_text;
  std::int64_t last_ts_seconds = 0;
  enum Role : std::uint16_t { order_id, channel_key, item_id, quantity, unit_price, ts };  // order_roles() order
  for (std::size_t f = 0; f < config.orders.size(); ++f) {
    const OrderInputConfig& input = config.orders[f];
    const auto file_index = static_cast<std::uint32_t>(InputFiles::first_orders + f);
    const std::uint16_t channel = channel_index(channels, input.channel);
    RecordParser parser(readers[f], input, file_index, rejects);
    const auto parse_line = [&](const RowOrigin& origin, const RoleFields& fields) -> Outcome {
      std::int64_t order = 0, item = 0, count = 0, price_units = 0, seconds = 0, value_units = 0;
      if (auto problem = integer_field(fields[order_id], order_id, order)) return problem;
      if (auto problem = integer_field(fields[item_id], item_id, item)) return problem;
      if (auto problem = integer_field(fields[quantity], quantity, count)) return problem;
      if (count > max_abs_quantity || count < -max_abs_quantity) return Problem{RejectReason::bad_number, quantity};
      if (auto problem = money_field(fields[unit_price], unit_price, price_units)) return problem;
      if (!last_ts_text.empty() && same_short_text(fields[ts], last_ts_text)) {  // (empty: nothing parsed yet)
        seconds = last_ts_seconds;
      } else {
        if (auto problem = timestamp_field(fields[ts], ts, seconds)) return problem;
        last_ts_text = fields[ts];
        last_ts_seconds = seconds;
      }
      if (__builtin_mul_overflow(count, price_units, &value_units)) return Problem{RejectReason::bad_number, unit_price};
      keys.append(channel, fields[channel_key]);
      // Written in place, member by member: a line built aside and copied in was read back 16 bytes
      // at a time from 8-byte and smaller stores, a store forwarding stall per copy.
      OrderLine& line = parsed.lines.emplace_back();
      line.order_id = order;
      line.item_id = item;
      line.ts_seconds = seconds;
      line.value_units = value_units;
      line.channel = channel;
      line.purchase = count > 0 ? 1 : 0;
      line.anonymous = fields[channel_key].empty() ? 1 : 0;
      line.origin = origin;
      return std::nullopt;
    };
    counts.records[file_index] += parser.for_each(readers[f], shard, parse_line);
  }
  keys.flush();
  return parsed;
}

}  // namespace omniseg::jobs
