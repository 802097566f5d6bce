#include "jobs/input_tables.hpp"

#include <fmt/format.h>

#include <algorithm>
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

/// Splits the records of one file and hands the fields of each well-formed record, in role order,
/// to a row parser; structural problems (blank line, bad quoting, wrong column count) are rejected
/// here, once for every kind of file.
class RecordParser {
 public:
  RecordParser(const io::CsvShard& shard, const CsvInputConfig& input, std::uint32_t file_index,
               std::vector<io::RejectRecord>& rejects)
      : shard_(shard), file_index_(file_index), rejects_(rejects) {
    // Optional roles the config left out are read only when the header has such a column.
    std::vector<std::pair<std::string, std::string>> wanted;
    std::vector<bool> present;
    for (const auto& [role, column] : input.columns) {
      const bool defaulted = std::ranges::find(input.optional_roles_defaulted, role) != input.optional_roles_defaulted.end();
      const bool in_header = std::ranges::find(shard.header, column) != shard.header.end();
      present.push_back(!defaulted || in_header);
      if (present.back()) wanted.emplace_back(role, column);
    }
    const std::vector<std::size_t> mapped = io::map_columns(shard, wanted);
    std::size_t next = 0;
    for (const bool is_present : present) column_of_role_.push_back(is_present ? mapped[next++] : absent);
    fields_by_role_.resize(column_of_role_.size());
  }

  /// `parse_row(origin, fields)` returns a Problem or nothing (the row was used).
  template <class ParseRow>
  void for_each(ParseRow parse_row) {
    const std::size_t columns = shard_.header.size();
    for (std::uint64_t i = 0; i < shard_.size(); ++i) {
      const std::string_view record = shard_.record(i);
      const RowOrigin origin{.line_number = shard_.line_number[i],
                             .file_offset = shard_.file_offset[i],
                             .length = static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                 shard_.record_length[i], std::numeric_limits<std::uint32_t>::max())),
                             .file_index = file_index_};
      Outcome problem;
      if (record.empty()) {
        problem = Problem{RejectReason::empty_line};
      } else if (splitter_.split(record, fields_) != io::CsvRecordSplitter::Status::ok) {
        problem = Problem{RejectReason::bad_quoting};
      } else if (fields_.size() != columns) {
        problem = Problem{RejectReason::wrong_column_count};
      } else {
        for (std::size_t role = 0; role < column_of_role_.size(); ++role) {
          fields_by_role_[role] = column_of_role_[role] == absent ? std::string_view() : fields_[column_of_role_[role]];
        }
        problem = parse_row(origin, std::span<const std::string_view>(fields_by_role_));
      }
      if (problem) rejects_.push_back(reject_of(origin, problem->reason, problem->role));
    }
  }

 private:
  static constexpr std::size_t absent = std::numeric_limits<std::size_t>::max();
  const io::CsvShard& shard_;
  std::uint32_t file_index_;
  std::vector<io::RejectRecord>& rejects_;
  std::vector<std::size_t> column_of_role_;
  io::CsvRecordSplitter splitter_;
  std::vector<std::string_view> fields_;
  std::vector<std::string_view> fields_by_role_;
};

/// Field parsers: nothing when the value is good, else the reason naming the role.
Outcome integer_field(std::string_view text, std::uint16_t role, std::int64_t& value) {
  switch (io::parse_int64(text, value)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_number, role};
}
Outcome money_field(std::string_view text, std::uint16_t role, std::int64_t& units) {
  switch (io::parse_decimal(text, money_scale, units)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_number, role};
}
Outcome date_field(std::string_view text, std::uint16_t role, std::int32_t& days) {
  switch (io::parse_date(text, days)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_date, role};
}
Outcome timestamp_field(std::string_view text, std::uint16_t role, std::int64_t& seconds) {
  switch (io::parse_timestamp(text, seconds)) {
    case io::FieldStatus::ok: return std::nullopt;
    case io::FieldStatus::empty: return Problem{RejectReason::missing_value, role};
    case io::FieldStatus::bad: break;
  }
  return Problem{RejectReason::bad_timestamp, role};
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

InputFiles::InputFiles(const IntegrateConfig& config) {
  inputs = {&config.customers, &config.identity, &config.items};
  for (const auto& order : config.orders) inputs.push_back(&order);
}

void append_channel_key(engine::StringColumn& keys, std::uint16_t channel, std::string_view channel_key) {
  // Channel indices stay below 251 (the config allows at most 250 channels): one byte. The buffer
  // is reused, so that millions of keys cost no allocation each.
  thread_local std::string key;
  key.assign(1, static_cast<char>(channel));
  key += channel_key;
  keys.push_back(key);
}

std::vector<std::string> channel_names(const IntegrateConfig& config) {
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

ParsedCustomers read_customers(const engine::Communicator& comm, const IntegrateConfig& config, io::CsvShard& shard,
                               std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  io::read_csv_shard(comm, config.customers.path, shard);
  counts.records[InputFiles::customers] += shard.size();
  ParsedCustomers parsed;
  parsed.rows.reserve(shard.size());
  RecordParser parser(shard, config.customers, InputFiles::customers, rejects);
  enum Role : std::uint16_t { customer_id, signup_date };  // customer_roles() order
  parser.for_each([&](const RowOrigin& origin, std::span<const std::string_view> fields) -> Outcome {
    CustomerRow row{.origin = origin};
    if (auto problem = integer_field(fields[customer_id], customer_id, row.customer_id)) return problem;
    if (auto problem = date_field(fields[signup_date], signup_date, row.signup_days)) return problem;
    parsed.rows.push_back(row);
    return std::nullopt;
  });
  return parsed;
}

ParsedItems read_items(const engine::Communicator& comm, const IntegrateConfig& config, io::CsvShard& shard,
                       std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  io::read_csv_shard(comm, config.items.path, shard);
  counts.records[InputFiles::items] += shard.size();
  ParsedItems parsed;
  std::map<std::string, std::uint32_t, std::less<>> category_index;
  RecordParser parser(shard, config.items, InputFiles::items, rejects);
  enum Role : std::uint16_t { item_id, category, brand, list_price };  // item_roles() order
  parser.for_each([&](const RowOrigin& origin, std::span<const std::string_view> fields) -> Outcome {
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
  });
  return parsed;
}

ParsedIdentity read_identity(const engine::Communicator& comm, const IntegrateConfig& config,
                             const std::vector<std::string>& channels, io::CsvShard& shard,
                             std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  io::read_csv_shard(comm, config.identity.path, shard);
  counts.records[InputFiles::identity] += shard.size();
  ParsedIdentity parsed;
  parsed.rows.reserve(shard.size());
  RecordParser parser(shard, config.identity, InputFiles::identity, rejects);
  enum Role : std::uint16_t { channel, channel_key, customer_id };  // identity_roles() order
  parser.for_each([&](const RowOrigin& origin, std::span<const std::string_view> fields) -> Outcome {
    IdentityRow row{.origin = origin};
    if (fields[channel].empty()) return Problem{RejectReason::missing_value, channel};
    const std::uint16_t channel_number = channel_index(channels, fields[channel]);
    if (channel_number == std::numeric_limits<std::uint16_t>::max()) return Problem{RejectReason::bad_value, channel};
    if (fields[channel_key].empty()) return Problem{RejectReason::missing_value, channel_key};
    if (auto problem = integer_field(fields[customer_id], customer_id, row.customer_id)) return problem;
    append_channel_key(parsed.keys, channel_number, fields[channel_key]);
    parsed.rows.push_back(row);
    return std::nullopt;
  });
  return parsed;
}

ParsedOrders read_orders(const engine::Communicator& comm, const IntegrateConfig& config,
                         const std::vector<std::string>& channels, io::CsvShard& shard,
                         std::vector<io::RejectRecord>& rejects, ReadCounts& counts) {
  ParsedOrders parsed;
  enum Role : std::uint16_t { order_id, channel_key, item_id, quantity, unit_price, ts };  // order_roles() order
  for (std::size_t f = 0; f < config.orders.size(); ++f) {
    const OrderInputConfig& input = config.orders[f];
    const auto file_index = static_cast<std::uint32_t>(InputFiles::first_orders + f);
    const std::uint16_t channel = channel_index(channels, input.channel);
    io::read_csv_shard(comm, input.path, shard);
    counts.records[file_index] += shard.size();
    parsed.lines.reserve(parsed.lines.size() + shard.size());
    RecordParser parser(shard, input, file_index, rejects);
    parser.for_each([&](const RowOrigin& origin, std::span<const std::string_view> fields) -> Outcome {
      OrderLine line{.channel = channel, .origin = origin};
      std::int64_t count = 0, price_units = 0;
      if (auto problem = integer_field(fields[order_id], order_id, line.order_id)) return problem;
      if (auto problem = integer_field(fields[item_id], item_id, line.item_id)) return problem;
      if (auto problem = integer_field(fields[quantity], quantity, count)) return problem;
      if (count > max_abs_quantity || count < -max_abs_quantity) return Problem{RejectReason::bad_number, quantity};
      if (auto problem = money_field(fields[unit_price], unit_price, price_units)) return problem;
      if (auto problem = timestamp_field(fields[ts], ts, line.ts_seconds)) return problem;
      if (__builtin_mul_overflow(count, price_units, &line.value_units)) return Problem{RejectReason::bad_number, unit_price};
      line.purchase = count > 0 ? 1 : 0;
      line.anonymous = fields[channel_key].empty() ? 1 : 0;
      line.parse_row = parsed.lines.size();
      append_channel_key(parsed.keys, channel, fields[channel_key]);
      parsed.lines.push_back(line);
      return std::nullopt;
    });
  }
  return parsed;
}

}  // namespace omniseg::jobs
