#include "io/reject_log.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>

#include "engine/distributed_sort.hpp"
#include "engine/error_agreement.hpp"
#include "io/csv_reader.hpp"
#include "io/ordered_text.hpp"

namespace omniseg::io {

static_assert(std::is_trivially_copyable_v<RejectRecord>, "RejectRecord travels through shuffles and sorts");
static_assert(sizeof(RejectRecord) == 32, "RejectRecord should have no padding: it is sent as raw bytes");
static_assert(static_cast<std::size_t>(RejectReason::unknown_customer) + 1 == reject_reason_count,
              "reject_reason_count must follow the last RejectReason");

std::string_view reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::wrong_column_count: return "wrong_column_count";
    case RejectReason::bad_quoting: return "bad_quoting";
    case RejectReason::empty_line: return "empty_line";
    case RejectReason::missing_value: return "missing_value";
    case RejectReason::bad_number: return "bad_number";
    case RejectReason::bad_date: return "bad_date";
    case RejectReason::bad_timestamp: return "bad_timestamp";
    case RejectReason::bad_value: return "bad_value";
    case RejectReason::duplicate_key: return "duplicate_key";
    case RejectReason::identity_conflict: return "identity_conflict";
    case RejectReason::unknown_item: return "unknown_item";
    case RejectReason::unknown_channel_key: return "unknown_channel_key";
    case RejectReason::unknown_customer: return "unknown_customer";
  }
  return "invalid_reason";  // only for a value outside the enumeration
}

bool reject_order(const RejectRecord& a, const RejectRecord& b) {
  const auto key = [](const RejectRecord& r) {
    return std::tuple(r.file_index, r.line_number, static_cast<std::uint16_t>(r.reason), r.column, r.file_offset,
                      r.length);
  };
  return key(a) < key(b);
}

void append_csv_field(std::string& line, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    line += field;
    return;
  }
  line += '"';
  for (const char c : field) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

std::string printable_raw(std::string_view raw, std::uint64_t full_length) {
  if (full_length <= max_raw_bytes) return std::string(raw);
  raw = raw.substr(0, max_raw_bytes);
  // If the last character is cut, drop its first bytes too: find its lead byte among the last
  // four bytes (continuation bytes are 10xxxxxx) and the length that lead byte announces.
  for (std::size_t back = 1; back <= 4 && back <= raw.size(); ++back) {
    const auto byte = static_cast<unsigned char>(raw[raw.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead byte
    const std::size_t announced = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
    if (announced > back) raw.remove_suffix(back);
    break;
  }
  return std::string(raw) + "...";
}

void write_rejects_csv(const engine::Communicator& comm, const std::string& path,
                       std::vector<RejectRecord> local_rejects,
                       std::span<const std::pair<std::string, std::string>> files,
                       std::span<const std::vector<std::string>> column_names) {
  // Sorted over all ranks into blocks in rank order, the concatenation of the blocks is the same
  // list for any rank count; each rank then prints its block.
  const std::vector<RejectRecord> block = engine::sort_into_blocks(comm, std::move(local_rejects), reject_order);
  const std::string text = engine::collectively(comm, [&] {
    std::string out;
    if (comm.is_root()) out = "file,line,reason,column,raw\n";
    std::vector<std::optional<RandomAccessFile>> opened(files.size());
    std::string raw;
    for (const RejectRecord& reject : block) {
      if (reject.file_index >= files.size()) {
        throw std::logic_error("write_rejects_csv: a reject names file " + std::to_string(reject.file_index) +
                               " of " + std::to_string(files.size()));
      }
      auto& file = opened[reject.file_index];
      if (!file) file.emplace(files[reject.file_index].first, "input file");
      raw.clear();
      file->append_bytes(reject.file_offset, std::min(reject.length, max_raw_bytes), raw);

      append_csv_field(out, files[reject.file_index].second);
      out += ',';
      out += std::to_string(reject.line_number);
      out += ',';
      out += reason_name(reject.reason);
      out += ',';
      if (reject.column != no_column) {
        const bool named = reject.file_index < column_names.size() &&
                           reject.column < column_names[reject.file_index].size();
        append_csv_field(out, named ? column_names[reject.file_index][reject.column] : std::to_string(reject.column));
      }
      out += ',';
      append_csv_field(out, printable_raw(raw, reject.length));
      out += '\n';
    }
    return out;
  });
  write_ordered_text(comm, path, text);
}

}  // namespace omniseg::io
