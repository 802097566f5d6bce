#include "io/csv_fields.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace omniseg::io {
namespace {

constexpr std::uint64_t int64_max_magnitude = std::uint64_t{1} << 63;  // |INT64_MIN|

constexpr bool is_blank(char c) { return c == ' ' || c == '\t'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr unsigned digit_value(char c) { return static_cast<unsigned>(c - '0'); }

/// The value without surrounding spaces and tabs.
std::string_view trimmed(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

/// Removes a leading sign; returns true for '-'.
bool take_sign(std::string_view& text) {
  if (text.empty()) return false;
  if (text.front() == '-') {
    text.remove_prefix(1);
    return true;
  }
  if (text.front() == '+') text.remove_prefix(1);
  return false;
}

/// value = value * 10 + digit, false on overflow of uint64.
bool append_digit(std::uint64_t& value, char digit) {
  return !__builtin_mul_overflow(value, std::uint64_t{10}, &value) &&
         !__builtin_add_overflow(value, std::uint64_t{digit_value(digit)}, &value);
}

/// A magnitude and its sign as an int64, or false when it does not fit.
bool signed_value(std::uint64_t magnitude, bool negative, std::int64_t& value) {
  if (negative) {
    if (magnitude > int64_max_magnitude) return false;
    // -2^63 has no positive twin: negate in unsigned arithmetic, then reinterpret.
    value = static_cast<std::int64_t>(~magnitude + 1);
    return true;
  }
  if (magnitude >= int64_max_magnitude) return false;
  value = static_cast<std::int64_t>(magnitude);
  return true;
}

constexpr std::uint64_t power_of_ten(int exponent) {
  std::uint64_t power = 1;
  for (int i = 0; i < exponent; ++i) power *= 10;
  return power;
}

/// Reads exactly `count` digits at `text[at]` as a number; false if any is not a digit.
bool fixed_digits(std::string_view text, std::size_t at, std::size_t count, unsigned& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (!is_digit(text[i])) return false;
    value = value * 10 + digit_value(text[i]);
  }
  return true;
}

constexpr bool is_leap_year(unsigned year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

constexpr unsigned days_in_month(unsigned year, unsigned month) {
  constexpr unsigned lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : lengths[month - 1];
}

/// "YYYY-MM-DD" at the start of `text` (exactly 10 bytes) -> days since the epoch.
bool parse_date_prefix(std::string_view text, std::int64_t& days) {
  unsigned year = 0, month = 0, day = 0;
  if (!fixed_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !fixed_digits(text, 5, 2, month) ||
      text[7] != '-' || !fixed_digits(text, 8, 2, day)) {
    return false;
  }
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  days = days_from_civil(year, month, day);
  return true;
}

struct CivilDate {
  std::int64_t year;
  unsigned month, day;
};

/// The inverse of days_from_civil (Howard Hinnant's civil_from_days).
CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<std::uint64_t>(days - era * 146097);
  const std::uint64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::uint64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::uint64_t shifted_month = (5 * day_of_year + 2) / 153;  // March = 0
  const auto day = static_cast<unsigned>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
  const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

void append_two_digits(std::string& out, unsigned value) {
  out += static_cast<char>('0' + value / 10);
  out += static_cast<char>('0' + value % 10);
}

std::string format_civil(const CivilDate& date) {
  std::string text;
  if (date.year >= 0 && date.year < 10000) {
    const auto year = static_cast<unsigned>(date.year);
    append_two_digits(text, year / 100);
    append_two_digits(text, year % 100);
  } else {
    text = std::to_string(date.year);
  }
  text += '-';
  append_two_digits(text, date.month);
  text += '-';
  append_two_digits(text, date.day);
  return text;
}

constexpr std::int64_t seconds_per_day = 86400;

/// Floor division for negative seconds (timestamps before 1970).
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t quotient = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
}

}  // namespace

namespace detail {

FieldStatus parse_int64_careful(std::string_view text, std::int64_t& value) {
  text = trimmed(text);
  if (text.empty()) return FieldStatus::empty;
  const bool negative = take_sign(text);
  if (text.empty()) return FieldStatus::bad;
  std::uint64_t magnitude = 0;
  for (const char c : text) {
    if (!is_digit(c) || !append_digit(magnitude, c)) return FieldStatus::bad;
  }
  return signed_value(magnitude, negative, value) ? FieldStatus::ok : FieldStatus::bad;
}

FieldStatus parse_decimal_careful(std::string_view text, int scale, std::int64_t& units) {
  if (scale < 0 || scale > max_decimal_scale) {
    throw std::invalid_argument("parse_decimal: scale must be between 0 and 18");
  }
  text = trimmed(text);
  if (text.empty()) return FieldStatus::empty;
  const bool negative = take_sign(text);
  std::uint64_t whole = 0;
  std::size_t i = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    if (!append_digit(whole, text[i])) return FieldStatus::bad;
  }
  std::size_t digits = i;
  std::uint64_t fraction = 0;
  int fraction_digits = 0;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && is_digit(text[i]); ++i, ++digits) {
      if (fraction_digits < scale) {
        fraction = fraction * 10 + digit_value(text[i]);
        ++fraction_digits;
      } else if (text[i] != '0') {
        return FieldStatus::bad;  // finer than the scale: not exactly representable
      }
    }
  }
  if (digits == 0 || i != text.size()) return FieldStatus::bad;
  fraction *= power_of_ten(scale - fraction_digits);
  std::uint64_t magnitude = 0;
  if (__builtin_mul_overflow(whole, power_of_ten(scale), &magnitude) ||
      __builtin_add_overflow(magnitude, fraction, &magnitude)) {
    return FieldStatus::bad;
  }
  return signed_value(magnitude, negative, units) ? FieldStatus::ok : FieldStatus::bad;
}

FieldStatus parse_date_careful(std::string_view text, std::int32_t& days_since_epoch) {
  text = trimmed(text);
  if (text.empty()) return FieldStatus::empty;
  std::int64_t days = 0;
  if (text.size() != 10 || !parse_date_prefix(text, days)) return FieldStatus::bad;
  days_since_epoch = static_cast<std::int32_t>(days);  // years 1000-9999 fit easily
  return FieldStatus::ok;
}

FieldStatus parse_timestamp_careful(std::string_view text, std::int64_t& seconds_since_epoch) {
  text = trimmed(text);
  if (text.empty()) return FieldStatus::empty;
  std::int64_t days = 0;
  if (!parse_date_prefix(text, days)) return FieldStatus::bad;
  if (text.size() == 10) {
    seconds_since_epoch = days * seconds_per_day;
    return FieldStatus::ok;
  }
  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') return FieldStatus::bad;

  unsigned hour = 0, minute = 0, second = 0;
  if (!fixed_digits(text, 11, 2, hour) || text.size() < 16 || text[13] != ':' || !fixed_digits(text, 14, 2, minute)) {
    return FieldStatus::bad;
  }
  std::size_t at = 16;
  if (at < text.size() && text[at] == ':') {
    if (!fixed_digits(text, at + 1, 2, second)) return FieldStatus::bad;
    at += 3;
    if (at < text.size() && (text[at] == '.' || text[at] == ',')) {
      const std::size_t first_fraction_digit = ++at;
      while (at < text.size() && is_digit(text[at])) ++at;
      if (at == first_fraction_digit) return FieldStatus::bad;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return FieldStatus::bad;

  std::int64_t offset_seconds = 0;
  if (at < text.size()) {
    const char zone = text[at];
    if (zone == 'Z' || zone == 'z') {
      ++at;
    } else if (zone == '+' || zone == '-') {
      unsigned offset_hours = 0, offset_minutes = 0;
      if (!fixed_digits(text, at + 1, 2, offset_hours)) return FieldStatus::bad;
      at += 3;
      if (at < text.size()) {
        if (text[at] == ':') ++at;
        if (!fixed_digits(text, at, 2, offset_minutes)) return FieldStatus::bad;
        at += 2;
      }
      if (offset_hours > 23 || offset_minutes > 59) return FieldStatus::bad;
      offset_seconds = (zone == '-' ? -1 : 1) * static_cast<std::int64_t>(offset_hours * 3600 + offset_minutes * 60);
    } else {
      return FieldStatus::bad;
    }
  }
  if (at != text.size()) return FieldStatus::bad;
  // Local time minus its offset from UTC is UTC.
  seconds_since_epoch = days * seconds_per_day + hour * 3600 + minute * 60 + second - offset_seconds;
  return FieldStatus::ok;
}

}  // namespace detail

FieldStatus parse_double(std::string_view text, double& value) {
  text = trimmed(text);
  if (text.empty()) return FieldStatus::empty;
  // from_chars takes a '-' but no '+'; a sign after the '+' ("+-1") stays bad.
  if (text.front() == '+') {
    text.remove_prefix(1);
    if (text.empty() || text.front() == '-') return FieldStatus::bad;
  }
  double parsed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(parsed)) return FieldStatus::bad;
  value = parsed;
  return FieldStatus::ok;
}

std::string format_date(std::int32_t days_since_epoch) { return format_civil(civil_from_days(days_since_epoch)); }

std::string format_timestamp(std::int64_t seconds_since_epoch) {
  const std::int64_t days = floor_div(seconds_since_epoch, seconds_per_day);
  const auto second_of_day = static_cast<unsigned>(seconds_since_epoch - days * seconds_per_day);
  std::string text = format_civil(civil_from_days(days));
  text += 'T';
  append_two_digits(text, second_of_day / 3600);
  text += ':';
  append_two_digits(text, second_of_day / 60 % 60);
  text += ':';
  append_two_digits(text, second_of_day % 60);
  text += 'Z';
  return text;
}

}  // namespace omniseg::io
