// io/reject_log.hpp — rows that could not be used, and rejects.csv.
//
// Owns: the reasons a row is rejected (their snake_case names are part of the output formats:
// rejects.csv and the run summary), the fixed-size record that names a rejected row by file, line
// and byte range, and the collective writer of rejects.csv, which is byte-identical for any number
// of ranks. Does not own: deciding that a row is bad (jobs/), reading CSV (io/csv_reader.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/communicator.hpp"

namespace omniseg::io {

/// Why a row was rejected. The names (snake_case, reason_name) appear in rejects.csv and summary.json.
enum class RejectReason : std::uint16_t {
  wrong_column_count,   ///< more or fewer fields than the header has
  bad_quoting,          ///< a quote inside an unquoted field, text after a closing quote, an unterminated quote
  empty_line,           ///< a blank line (no bytes besides the line end)
  missing_value,        ///< a required field is empty (or blank, for typed fields)
  bad_number,
  bad_date,
  bad_timestamp,
  bad_value,            ///< e.g. an identity channel that is not a configured channel
  duplicate_key,        ///< e.g. a second row for the same item_id / customer_id / identical identity row
  identity_conflict,    ///< an identity key mapped to a second (higher) customer_id
  unknown_item,
  unknown_channel_key,
  unknown_customer,
};

/// Number of RejectReason values (they are 0 .. reject_reason_count - 1).
inline constexpr std::size_t reject_reason_count = 13;

/// The reason's name as written to rejects.csv, e.g. "bad_quoting".
[[nodiscard]] std::string_view reason_name(RejectReason reason);

/// RejectRecord::column when the reason concerns the whole row, not one column.
inline constexpr std::uint16_t no_column = 0xffff;

/// One rejected row. Fixed size and trivially copyable (Transportable): it travels through
/// shuffles and sorts; its raw text is read back from the input file only when it is written.
struct RejectRecord {
  std::uint32_t file_index;   ///< index into the job's list of input files
  RejectReason reason;
  std::uint16_t column;       ///< index into the file's mapped roles, or no_column
  std::uint64_t line_number;  ///< 1-based line of the record's first byte
  std::uint64_t file_offset;  ///< of the record's first byte
  std::uint64_t length;       ///< record bytes without the line end

  friend bool operator==(const RejectRecord&, const RejectRecord&) = default;
};

/// The order of rejects.csv: by file, then line (then the other fields, so the order is total and
/// the output does not depend on where equal records started).
[[nodiscard]] bool reject_order(const RejectRecord& a, const RejectRecord& b);

/// At most this many bytes of a row are copied into rejects.csv; longer rows are cut (at a UTF-8
/// character boundary) and end with "...".
inline constexpr std::uint64_t max_raw_bytes = 1000;

/// Collective. Writes rejects.csv: the header "file,line,reason,column,raw", then one line per
/// reject of ALL ranks, sorted by reject_order, so the file is byte-identical for any number of
/// ranks. `files[i]` is (path to open, name to print) of file i; `column_names[i][c]` the name
/// printed for column c of file i (an empty column for no_column, the number if c has no name).
/// The raw text is read back from the input file (every rank reads the rows of its block of the
/// sorted rejects). Fields are CSV-quoted when they hold a comma, a quote, CR or LF. Written in
/// parallel (io::write_ordered_text); failures are the same CollectiveError on every rank.
void write_rejects_csv(const engine::Communicator& comm, const std::string& path,
                       std::vector<RejectRecord> local_rejects,
                       std::span<const std::pair<std::string, std::string>> files,
                       std::span<const std::vector<std::string>> column_names);

/// Pure kernel of the writer: appends `field` to `line`, in quotes (doubling inner quotes) when it
/// holds a comma, a quote, CR or LF.
void append_csv_field(std::string& line, std::string_view field);

/// Pure kernel of the writer: the raw text as printed. `raw` holds the record's first
/// min(full_length, max_raw_bytes) bytes; when the record is longer, the text is cut back to a
/// UTF-8 character boundary (so that no character is split) and "..." is added.
[[nodiscard]] std::string printable_raw(std::string_view raw, std::uint64_t full_length);

}  // namespace omniseg::io
