// io/csv_fields.hpp — typed parsers for the text of one CSV field.
//
// Owns: the syntax of the values omniseg reads from CSV files (integers, exact fixed-point
// decimals, doubles, calendar dates, ISO 8601 timestamps) and their inverse formatting for dates
// and timestamps. The parsers are pure, allocate nothing and never throw on bad text: they return a
// FieldStatus, so that the caller decides whether a bad value rejects a row or ends the job.
// Does not own: splitting records into fields or unquoting (io/csv_reader.hpp), or what a missing
// or bad value means for a row (the caller, e.g. jobs/input_tables.cpp with io/reject_log.hpp).
//
// Blanks: leading and trailing spaces and tabs around a value are ignored by every parser here
// (" 42 " is 42); a field that is empty or holds only blanks is FieldStatus::empty. Blanks inside a
// value ("4 2", "2025-03-14 T12:00:00") make it bad. Text fields are not touched: only these
// parsers trim.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace omniseg::io {

/// The outcome of parsing one field: a value, nothing (empty or blank), or text that is not a
/// value of the type.
enum class FieldStatus { ok, empty, bad };

/// The largest `scale` parse_decimal accepts: 10^18 is the largest power of ten in an int64.
inline constexpr int max_decimal_scale = 18;

/// Decimal integer with an optional leading '+' or '-' and at least one digit ("007" is 7). A value
/// outside int64 is bad.
FieldStatus parse_int64(std::string_view text, std::int64_t& value);

/// Exact fixed-point decimal: `units` = value * 10^scale, e.g. "19.99" at scale 4 gives 199900.
/// Optional sign; digits before and after the point may be missing but not both ("-3", "+0.5",
/// ".5", "5." are good; ".", "-", "" are not). More fractional digits than `scale` are bad unless
/// the extra ones are all zeros ("1.25000" at scale 2 is 125). No exponents, no thousands
/// separators. A result outside int64 is bad. Money is parsed this way so that sums are exact.
/// Precondition: 0 <= scale <= max_decimal_scale (else std::invalid_argument).
FieldStatus parse_decimal(std::string_view text, int scale, std::int64_t& units);

/// A finite double in std::from_chars' general format ("1.5", "-2e-3", ".5"), with an optional
/// leading '+'. "inf", "nan", hexadecimal and values outside the double range are bad.
FieldStatus parse_double(std::string_view text, double& value);

/// "YYYY-MM-DD": a real calendar date (proleptic Gregorian, leap years included) with a year from
/// 1000 to 9999, exactly two-digit month and day -> days since 1970-01-01 (negative before).
FieldStatus parse_date(std::string_view text, std::int32_t& days_since_epoch);

/// ISO 8601 date and time -> whole seconds since 1970-01-01T00:00:00Z.
///   date:     "YYYY-MM-DD" as parse_date; a bare date means midnight UTC.
///   time:     'T' (or 't', or one space) then "HH:MM:SS" or "HH:MM"; hour 00-23, minute and second
///             00-59 (no leap second 60, no 24:00).
///   fraction: after the seconds, '.' or ',' and one or more digits; truncated to the whole second
///             (the value is the second the instant falls in).
///   zone:     none (UTC), 'Z'/'z', or an offset "+HH:MM", "-HH:MM", "+HHMM", "+HH" (hours 00-23,
///             minutes 00-59), converted to UTC: "2025-03-14T01:00:00+02:00" is 2025-03-13T23:00Z.
/// Anything else — month 13, day 30 of February, 25:00, a trailing letter — is bad.
FieldStatus parse_timestamp(std::string_view text, std::int64_t& seconds_since_epoch);

/// Days since 1970-01-01 -> "YYYY-MM-DD" (the inverse of parse_date for years 1000-9999; other
/// years print with as many digits as they need, a '-' before negative years).
std::string format_date(std::int32_t days_since_epoch);

/// Seconds since the epoch -> "YYYY-MM-DDTHH:MM:SSZ" (parse_timestamp reads it back).
std::string format_timestamp(std::int64_t seconds_since_epoch);

/// Days since 1970-01-01 of a proleptic Gregorian date; `month` 1-12, `day` 1-31 (not checked
/// against the month's length: callers validate first). Exposed for tests and date arithmetic.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

}  // namespace omniseg::io
