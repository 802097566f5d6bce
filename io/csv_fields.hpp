// io/csv_fields.hpp — typed parsers for the text of one CSV field.
//
// Owns: the syntax of the values omniseg reads from CSV files (integers, exact fixed-point
// decimals, doubles, calendar dates, ISO 8601 timestamps) and their inverse formatting for dates
// and timestamps. The parsers are pure, allocate nothing and never throw on bad text: they return a
// FieldStatus, so that the caller decides whether a bad value rejects a row or ends the job.
// Does not own: splitting records into fields or unquoting (io/csv_reader.hpp), or what a missing
// or bad value means for a row (the caller, e.g. jobs/input_tables.cpp with io/reject_log.hpp).
//
// Speed: each parser is an inline fast path for the plain form machine-written files use ("123",
// "19.99", "2025-03-14T12:34:56Z"), which falls back to the full (out-of-line) parser in detail::
// for anything else; both give the same result for every text (tests/io/csv_fields_test.cpp
// compares them), so the fast path is an optimisation only.
//
// Blanks: leading and trailing spaces and tabs around a value are ignored by every parser here
// (" 42 " is 42); a field that is empty or holds only blanks is FieldStatus::empty. Blanks inside a
// value ("4 2", "2025-03-14 T12:00:00") make it bad. Text fields are not touched: only these
// parsers trim.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace omniseg::io {

/// The outcome of parsing one field: a value, nothing (empty or blank), or text that is not a
/// value of the type.
enum class FieldStatus { ok, empty, bad };

/// The largest `scale` parse_decimal accepts: 10^18 is the largest power of ten in an int64.
inline constexpr int max_decimal_scale = 18;

namespace detail {

// The full parsers behind the fast paths below, each with the contract of its public twin.
FieldStatus parse_int64_careful(std::string_view text, std::int64_t& value);
FieldStatus parse_decimal_careful(std::string_view text, int scale, std::int64_t& units);
FieldStatus parse_date_careful(std::string_view text, std::int32_t& days_since_epoch);
FieldStatus parse_timestamp_careful(std::string_view text, std::int64_t& seconds_since_epoch);

inline constexpr std::array<std::uint64_t, 19> powers_of_ten = [] {
  std::array<std::uint64_t, 19> powers{};
  std::uint64_t power = 1;
  for (auto& p : powers) {
    p = power;
    power *= 10;
  }
  return powers;
}();

/// The value of the decimal digit `c`, or something above 9 for any other byte.
constexpr unsigned digit_or_above_9(char c) { return static_cast<unsigned>(static_cast<unsigned char>(c)) - '0'; }

// ---- eight bytes at a time (SWAR) ----------------------------------------------------------------
// A fixed layout such as "YYYY-MM-" is checked in one 64-bit word: XOR with the layout turns each
// digit into its value (0-9, and only digits do) and each expected separator into 0; adding 0x76 to a
// digit byte, 0x7F to a separator byte, sets the byte's top bit exactly when it is out of range
// (bytes with the top bit already set are out of range anyway; their carries do not matter).

inline constexpr bool swar_available = std::endian::native == std::endian::little;

/// The 8 bytes at `p` as a little-endian word (byte i in bits 8i..8i+7).
inline std::uint64_t load_word(const char* p) {
  std::uint64_t word = 0;
  std::memcpy(&word, p, sizeof word);
  return word;
}

/// An 8-byte layout: '0' stands for any digit, other bytes must match exactly.
struct WordLayout {
  std::uint64_t xor_mask = 0;
  std::uint64_t add_mask = 0;
  explicit consteval WordLayout(const char (&layout)[9]) {  // layouts are literals, made at compile time
    for (int i = 0; i < 8; ++i) {
      xor_mask |= std::uint64_t{static_cast<unsigned char>(layout[i])} << (8 * i);
      add_mask |= std::uint64_t{layout[i] == '0' ? 0x76u : 0x7Fu} << (8 * i);
    }
  }
};

/// `word` XOR the layout if the word fits it (its digit bytes then hold digit values), else nothing.
constexpr bool fits(std::uint64_t word, const WordLayout& layout, std::uint64_t& values) {
  values = word ^ layout.xor_mask;
  return ((values | (values + layout.add_mask)) & 0x8080808080808080) == 0;
}

/// Byte `i` of `word`.
constexpr unsigned byte_at(std::uint64_t word, int i) { return static_cast<unsigned>(word >> (8 * i)) & 0xFF; }

/// The 8 digit values in the bytes of `values` (first byte most significant) as a number.
constexpr std::uint64_t eight_digit_value(std::uint64_t values) {
  values = (values * 10 + (values >> 8)) & 0x00FF00FF00FF00FF;          // pairs
  values = (values * 100 + (values >> 16)) & 0x0000FFFF0000FFFF;        // quads
  return (values * 10000 + (values >> 32)) & 0xFFFFFFFF;                 // all eight
}

/// Two decimal digits at `p` into `value`; false if either is not a digit.
constexpr bool two_digits(const char* p, unsigned& value) {
  const unsigned tens = digit_or_above_9(p[0]), ones = digit_or_above_9(p[1]);
  value = tens * 10 + ones;
  return tens <= 9 && ones <= 9;
}

constexpr bool valid_date(unsigned year, unsigned month, unsigned day) {
  if (year < 1000 || month - 1 >= 12 || day == 0) return false;
  if (day <= 28) return true;  // in every month: no table, no leap year
  constexpr unsigned char lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= lengths[month - 1] + (month == 2 && leap ? 1u : 0u);
}

/// A valid "YYYY-MM-DD" at `p` (10 readable bytes) with a year from 1000 -> its parts.
inline bool plain_date(const char* p, unsigned& year, unsigned& month, unsigned& day) {
  if constexpr (swar_available) {
    constexpr WordLayout year_month("0000-00-"), month_day("00-00-00");
    std::uint64_t head = 0, tail = 0;
    if (!(fits(load_word(p), year_month, head) & fits(load_word(p + 2), month_day, tail))) return false;
    year = byte_at(head, 0) * 1000 + byte_at(head, 1) * 100 + byte_at(head, 2) * 10 + byte_at(head, 3);
    month = byte_at(head, 5) * 10 + byte_at(head, 6);
    day = byte_at(tail, 6) * 10 + byte_at(tail, 7);
  } else {
    unsigned century = 0, year_of_century = 0;
    if (!(two_digits(p, century) & two_digits(p + 2, year_of_century) & (p[4] == '-') & two_digits(p + 5, month) &
          (p[7] == '-') & two_digits(p + 8, day))) {
      return false;
    }
    year = century * 100 + year_of_century;
  }
  return valid_date(year, month, day);
}

/// A valid "HH:MM:SS" at `p` (8 readable bytes) -> seconds into the day.
inline bool plain_time(const char* p, unsigned& seconds) {
  unsigned hour = 0, minute = 0, second = 0;
  if constexpr (swar_available) {
    constexpr WordLayout layout("00:00:00");
    std::uint64_t values = 0;
    if (!fits(load_word(p), layout, values)) return false;
    hour = byte_at(values, 0) * 10 + byte_at(values, 1);
    minute = byte_at(values, 3) * 10 + byte_at(values, 4);
    second = byte_at(values, 6) * 10 + byte_at(values, 7);
  } else {
    if (!(two_digits(p, hour) & (p[2] == ':') & two_digits(p + 3, minute) & (p[5] == ':') &
          two_digits(p + 6, second))) {
      return false;
    }
  }
  seconds = hour * 3600 + minute * 60 + second;
  return hour < 24 && minute < 60 && second < 60;
}

}  // namespace detail

/// Days since 1970-01-01 of a proleptic Gregorian date; `month` 1-12, `day` 1-31 (not checked
/// against the month's length: callers validate first). Exposed for tests and date arithmetic.
constexpr std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  // Howard Hinnant's algorithm: years start in March, so the leap day is the last day of a year.
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<std::uint64_t>(year - era * 400);
  const std::uint64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const std::uint64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

/// Decimal integer with an optional leading '+' or '-' and at least one digit ("007" is 7). A value
/// outside int64 is bad.
inline FieldStatus parse_int64(std::string_view text, std::int64_t& value) {
  // Fast path: 1 to 18 digits and nothing else, which cannot overflow.
  if (!text.empty() && text.size() <= 18) {
    const char* p = text.data();
    const char* const end = p + text.size();
    std::uint64_t magnitude = 0;
    if constexpr (detail::swar_available) {
      constexpr detail::WordLayout digits("00000000");
      std::uint64_t values = 0;
      if (end - p >= 8) {
        if (!detail::fits(detail::load_word(p), digits, values)) return detail::parse_int64_careful(text, value);
        magnitude = detail::eight_digit_value(values);
        p += 8;
      }
    }
    for (; p < end; ++p) {
      const unsigned digit = detail::digit_or_above_9(*p);
      if (digit > 9) return detail::parse_int64_careful(text, value);
      magnitude = magnitude * 10 + digit;
    }
    value = static_cast<std::int64_t>(magnitude);
    return FieldStatus::ok;
  }
  return detail::parse_int64_careful(text, value);
}

/// Exact fixed-point decimal: `units` = value * 10^scale, e.g. "19.99" at scale 4 gives 199900.
/// Optional sign; digits before and after the point may be missing but not both ("-3", "+0.5",
/// ".5", "5." are good; ".", "-", "" are not). More fractional digits than `scale` are bad unless
/// the extra ones are all zeros ("1.25000" at scale 2 is 125). No exponents, no thousands
/// separators. A result outside int64 is bad. Money is parsed this way so that sums are exact.
/// Precondition: 0 <= scale <= max_decimal_scale (else std::invalid_argument).
inline FieldStatus parse_decimal(std::string_view text, int scale, std::int64_t& units) {
  // Fast path: digits, '.', at most `scale` digits, all short enough not to overflow.
  if (scale >= 0 && scale <= max_decimal_scale && !text.empty() && text.size() <= 18) {
    const char* const bytes = text.data();
    const std::size_t size = text.size();
    std::uint64_t whole = 0;
    std::size_t at = 0;
    for (unsigned digit = 0; at < size && (digit = detail::digit_or_above_9(bytes[at])) <= 9; ++at) {
      whole = whole * 10 + digit;
    }
    const std::size_t whole_digits = at;
    std::uint64_t fraction = 0;
    std::size_t fraction_digits = 0;
    if (at < size && bytes[at] == '.') {
      for (unsigned digit = 0; ++at < size && (digit = detail::digit_or_above_9(bytes[at])) <= 9;) {
        fraction = fraction * 10 + digit;
        ++fraction_digits;
      }
    }
    const auto places = static_cast<std::size_t>(scale);
    if (at == size && whole_digits + fraction_digits > 0 && fraction_digits <= places && whole_digits + places <= 18) {
      units = static_cast<std::int64_t>(whole * detail::powers_of_ten[places] +
                                        fraction * detail::powers_of_ten[places - fraction_digits]);
      return FieldStatus::ok;
    }
  }
  return detail::parse_decimal_careful(text, scale, units);
}

/// A finite double in std::from_chars' general format ("1.5", "-2e-3", ".5"), with an optional
/// leading '+'. "inf", "nan", hexadecimal and values outside the double range are bad.
FieldStatus parse_double(std::string_view text, double& value);

/// "YYYY-MM-DD": a real calendar date (proleptic Gregorian, leap years included) with a year from
/// 1000 to 9999, exactly two-digit month and day -> days since 1970-01-01 (negative before).
inline FieldStatus parse_date(std::string_view text, std::int32_t& days_since_epoch) {
  unsigned year = 0, month = 0, day = 0;
  if (text.size() == 10 && detail::plain_date(text.data(), year, month, day)) {
    days_since_epoch = static_cast<std::int32_t>(days_from_civil(year, month, day));
    return FieldStatus::ok;
  }
  return detail::parse_date_careful(text, days_since_epoch);
}

/// ISO 8601 date and time -> whole seconds since 1970-01-01T00:00:00Z.
///   date:     "YYYY-MM-DD" as parse_date; a bare date means midnight UTC.
///   time:     'T' (or 't', or one space) then "HH:MM:SS" or "HH:MM"; hour 00-23, minute and second
///             00-59 (no leap second 60, no 24:00).
///   fraction: after the seconds, '.' or ',' and one or more digits; truncated to the whole second
///             (the value is the second the instant falls in).
///   zone:     none (UTC), 'Z'/'z', or an offset "+HH:MM", "-HH:MM", "+HHMM", "+HH" (hours 00-23,
///             minutes 00-59), converted to UTC: "2025-03-14T01:00:00+02:00" is 2025-03-13T23:00Z.
/// Anything else — month 13, day 30 of February, 25:00, a trailing letter — is bad.
inline FieldStatus parse_timestamp(std::string_view text, std::int64_t& seconds_since_epoch) {
  // Fast path: "YYYY-MM-DDTHH:MM:SS" in UTC, with or without the 'Z'.
  if (text.size() == 19 || (text.size() == 20 && text[19] == 'Z')) {
    const char* const p = text.data();
    unsigned year = 0, month = 0, day = 0, second_of_day = 0;
    if (detail::plain_date(p, year, month, day) & (p[10] == 'T') & detail::plain_time(p + 11, second_of_day)) {
      seconds_since_epoch = days_from_civil(year, month, day) * 86400 + second_of_day;
      return FieldStatus::ok;
    }
  }
  return detail::parse_timestamp_careful(text, seconds_since_epoch);
}

/// Days since 1970-01-01 -> "YYYY-MM-DD" (the inverse of parse_date for years 1000-9999; other
/// years print with as many digits as they need, a '-' before negative years).
std::string format_date(std::int32_t days_since_epoch);

/// Seconds since the epoch -> "YYYY-MM-DDTHH:MM:SSZ" (parse_timestamp reads it back).
std::string format_timestamp(std::int64_t seconds_since_epoch);

}  // namespace omniseg::io
