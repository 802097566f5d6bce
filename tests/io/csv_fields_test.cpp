// Typed CSV field parsers (io/csv_fields.hpp): edge cases by hand, and brute-force comparisons with
// independent references — every calendar day from 1000 to 9999 counted one by one, libc's timegm
// and strtod, and decimal round trips through std::to_string.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <random>
#include <string>

#include "io/csv_fields.hpp"

namespace omniseg::io {
namespace {

constexpr auto int64_min = std::numeric_limits<std::int64_t>::min();
constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();

// ---- helpers: status and value in one comparable string ------------------------------------------

std::string int64_of(std::string_view text) {
  std::int64_t value = 12345;
  switch (parse_int64(text, value)) {
    case FieldStatus::ok: return std::to_string(value);
    case FieldStatus::empty: return "empty";
    case FieldStatus::bad: return "bad";
  }
  return "?";
}
std::string decimal_of(std::string_view text, int scale) {
  std::int64_t units = 12345;
  switch (parse_decimal(text, scale, units)) {
    case FieldStatus::ok: return std::to_string(units);
    case FieldStatus::empty: return "empty";
    case FieldStatus::bad: return "bad";
  }
  return "?";
}
std::string date_of(std::string_view text) {
  std::int32_t days = 12345;
  switch (parse_date(text, days)) {
    case FieldStatus::ok: return std::to_string(days);
    case FieldStatus::empty: return "empty";
    case FieldStatus::bad: return "bad";
  }
  return "?";
}
std::string timestamp_of(std::string_view text) {
  std::int64_t seconds = 12345;
  switch (parse_timestamp(text, seconds)) {
    case FieldStatus::ok: return format_timestamp(seconds);
    case FieldStatus::empty: return "empty";
    case FieldStatus::bad: return "bad";
  }
  return "?";
}
FieldStatus double_status(std::string_view text) {
  double value = 0;
  return parse_double(text, value);
}

// ---- integers --------------------------------------------------------------------------------------

TEST(ParseInt64, SignsLeadingZerosAndLimits) {
  EXPECT_EQ(int64_of("0"), "0");
  EXPECT_EQ(int64_of("-0"), "0");
  EXPECT_EQ(int64_of("+17"), "17");
  EXPECT_EQ(int64_of("-17"), "-17");
  EXPECT_EQ(int64_of("007"), "7");
  EXPECT_EQ(int64_of("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(int64_of("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(int64_of("00000000000000000000000009223372036854775807"), "9223372036854775807");
}

TEST(ParseInt64, OverflowIsBad) {
  EXPECT_EQ(int64_of("9223372036854775808"), "bad");
  EXPECT_EQ(int64_of("-9223372036854775809"), "bad");
  EXPECT_EQ(int64_of("18446744073709551615"), "bad");
  EXPECT_EQ(int64_of("18446744073709551616"), "bad");  // wraps uint64 to 0: must still be bad
  EXPECT_EQ(int64_of("99999999999999999999999999"), "bad");
}

TEST(ParseInt64, EmptyBlankAndGarbage) {
  EXPECT_EQ(int64_of(""), "empty");
  EXPECT_EQ(int64_of("   "), "empty");
  EXPECT_EQ(int64_of("\t"), "empty");
  EXPECT_EQ(int64_of(" 42\t"), "42");
  for (const char* bad : {"+", "-", "--1", "+-1", "1-", "4 2", "1.0", "1e3", "0x10", "12a", "a12", "1,000", "\r1",
                          "1\r", "\xd9\xa1", "- 1"}) {
    EXPECT_EQ(int64_of(bad), "bad") << bad;
  }
}

TEST(ParseInt64, RoundTripsRandomValues) {
  std::mt19937_64 random(1);
  for (int i = 0; i < 100'000; ++i) {
    const auto value = static_cast<std::int64_t>(random()) >> (random() % 64);
    ASSERT_EQ(int64_of(std::to_string(value)), std::to_string(value));
  }
}

// ---- decimals --------------------------------------------------------------------------------------

TEST(ParseDecimal, TheDocumentedForms) {
  EXPECT_EQ(decimal_of("19.99", 4), "199900");
  EXPECT_EQ(decimal_of("-3", 4), "-30000");
  EXPECT_EQ(decimal_of("+0.5", 4), "5000");
  EXPECT_EQ(decimal_of(".5", 4), "5000");
  EXPECT_EQ(decimal_of("5.", 4), "50000");
  EXPECT_EQ(decimal_of("-.0001", 4), "-1");
  EXPECT_EQ(decimal_of("0.0000", 4), "0");
  EXPECT_EQ(decimal_of("1.25000", 2), "125");  // extra zeros are exact
  EXPECT_EQ(decimal_of("1.251", 2), "bad");    // an extra non-zero digit is not
  EXPECT_EQ(decimal_of("7", 0), "7");
  EXPECT_EQ(decimal_of("7.0", 0), "7");
  EXPECT_EQ(decimal_of("7.5", 0), "bad");
  EXPECT_EQ(decimal_of("0.000000000000000001", 18), "1");
  EXPECT_EQ(decimal_of(" 2.50 ", 2), "250");
}

TEST(ParseDecimal, EmptyAndBadText) {
  EXPECT_EQ(decimal_of("", 4), "empty");
  EXPECT_EQ(decimal_of("  ", 4), "empty");
  for (const char* bad : {".", "-", "+", "-.", "1e3", "1E-2", "1.2.3", "1,5", "1 000", "--1", "$5", "5$", "0x1", "inf",
                          "nan", "1.5\r"}) {
    EXPECT_EQ(decimal_of(bad, 4), "bad") << bad;
  }
}

TEST(ParseDecimal, Int64Limits) {
  EXPECT_EQ(decimal_of("922337203685477.5807", 4), "9223372036854775807");
  EXPECT_EQ(decimal_of("922337203685477.5808", 4), "bad");
  EXPECT_EQ(decimal_of("-922337203685477.5808", 4), "-9223372036854775808");
  EXPECT_EQ(decimal_of("-922337203685477.5809", 4), "bad");
  EXPECT_EQ(decimal_of("922337203685478", 4), "bad");
  EXPECT_EQ(decimal_of("99999999999999999999", 4), "bad");  // the whole part alone overflows
  EXPECT_EQ(decimal_of("9.223372036854775807", 18), "9223372036854775807");
  EXPECT_EQ(decimal_of("10", 18), "bad");
}

TEST(ParseDecimal, ScaleOutOfRangeIsAProgrammingError) {
  std::int64_t units = 0;
  EXPECT_THROW((void)parse_decimal("1", -1, units), std::invalid_argument);
  EXPECT_THROW((void)parse_decimal("1", 19, units), std::invalid_argument);
}

TEST(ParseDecimal, RoundTripsRandomFixedPointText) {
  // Reference: print units / 10^scale with the digits placed by hand, with random decorations
  // that must not change the value (sign '+', leading zeros, trailing zeros).
  std::mt19937_64 random(2);
  for (int i = 0; i < 100'000; ++i) {
    const int scale = static_cast<int>(random() % 9);
    const auto units = static_cast<std::int64_t>(random()) >> (random() % 64);
    const bool negative = units < 0;
    std::string digits = std::to_string(units);
    if (negative) digits.erase(0, 1);
    if (digits.size() <= static_cast<std::size_t>(scale)) digits.insert(0, scale + 1 - digits.size(), '0');
    std::string text = digits.substr(0, digits.size() - scale);
    if (random() % 4 == 0) text.insert(0, random() % 3, '0');
    const bool point = scale > 0 || random() % 2 == 0;
    if (point && scale > 0 && text == "0" && random() % 2 == 0) text.clear();  // ".5"
    if (point) text += "." + digits.substr(digits.size() - scale) + std::string(random() % 3, '0');
    text.insert(0, negative ? "-" : (random() % 3 == 0 ? "+" : ""));
    ASSERT_EQ(decimal_of(text, scale), std::to_string(units)) << text << " at scale " << scale;
  }
}

// ---- doubles ---------------------------------------------------------------------------------------

TEST(ParseDouble, FiniteValuesOnly) {
  double value = 0;
  ASSERT_EQ(parse_double("1.5", value), FieldStatus::ok);
  EXPECT_EQ(value, 1.5);
  ASSERT_EQ(parse_double("+1.5", value), FieldStatus::ok);
  EXPECT_EQ(value, 1.5);
  ASSERT_EQ(parse_double(" -2e-3 ", value), FieldStatus::ok);
  EXPECT_EQ(value, -2e-3);
  ASSERT_EQ(parse_double(".5", value), FieldStatus::ok);
  EXPECT_EQ(value, 0.5);
  ASSERT_EQ(parse_double("1.7976931348623157e308", value), FieldStatus::ok);
  EXPECT_EQ(value, std::numeric_limits<double>::max());
  EXPECT_EQ(double_status(""), FieldStatus::empty);
  EXPECT_EQ(double_status(" "), FieldStatus::empty);
  for (const char* bad : {"inf", "-inf", "nan", "NaN", "infinity", "1e400", "-1e400", "0x1p3", "+", "+-1", "1.5x", "1 5",
                          "--1", "1,5", "e5"}) {
    EXPECT_EQ(double_status(bad), FieldStatus::bad) << bad;
  }
}

TEST(ParseDouble, AgreesWithStrtod) {
  std::mt19937_64 random(3);
  std::uniform_real_distribution<double> mantissa(-10, 10);
  for (int i = 0; i < 20'000; ++i) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*g", static_cast<int>(1 + random() % 17),
                  mantissa(random) * std::pow(10.0, static_cast<int>(random() % 200) - 100));
    double value = 0;
    ASSERT_EQ(parse_double(text, value), FieldStatus::ok) << text;
    ASSERT_EQ(value, std::strtod(text, nullptr)) << text;
  }
}

// ---- dates -----------------------------------------------------------------------------------------

TEST(ParseDate, EveryDayFromYear1000To9999AgainstACounter) {
  // Independent reference: walk the calendar one day at a time from 1970-01-01 backwards and
  // forwards with the plain leap-year rule, and check parse_date and format_date on every day.
  const auto days_in = [](int year, int month) {
    static constexpr int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : lengths[month - 1];
  };
  int year = 1000, month = 1, day = 1;
  // 1000-01-01 is 354,285 days before 1970-01-01 (719,162 days from 0001-01-01 to 1970-01-01 minus
  // the 364,877 from 0001-01-01 to 1000-01-01, computed independently in Python's datetime).
  std::int32_t counter = -354'285;
  char text[48];
  std::uint64_t checked = 0;
  while (year <= 9999) {
    std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
    std::int32_t days = 0;
    ASSERT_EQ(parse_date(text, days), FieldStatus::ok) << text;
    ASSERT_EQ(days, counter) << text;
    ASSERT_EQ(format_date(counter), text);
    ++checked;
    ++counter;
    if (++day > days_in(year, month)) {
      day = 1;
      if (++month > 12) {
        month = 1;
        ++year;
      }
    }
  }
  EXPECT_EQ(checked, 3'287'182u);  // days from 1000-01-01 to 9999-12-31
  EXPECT_EQ(date_of("1970-01-01"), "0");
  EXPECT_EQ(date_of("2000-03-01"), "11017");
}

TEST(ParseDate, LeapDaysAndImpossibleDates) {
  EXPECT_NE(date_of("2024-02-29"), "bad");
  EXPECT_NE(date_of("2000-02-29"), "bad");  // divisible by 400
  EXPECT_EQ(date_of("1900-02-29"), "bad");  // divisible by 100
  EXPECT_EQ(date_of("2023-02-29"), "bad");
  EXPECT_EQ(date_of("2024-02-30"), "bad");
  EXPECT_EQ(date_of("2024-04-31"), "bad");
  EXPECT_EQ(date_of("2024-13-01"), "bad");
  EXPECT_EQ(date_of("2024-00-10"), "bad");
  EXPECT_EQ(date_of("2024-01-00"), "bad");
  EXPECT_EQ(date_of("2024-01-32"), "bad");
  EXPECT_EQ(date_of("0999-12-31"), "bad");  // before year 1000
  EXPECT_EQ(date_of("10000-01-01"), "bad");
}

TEST(ParseDate, FormatAndBlanks) {
  EXPECT_EQ(date_of(""), "empty");
  EXPECT_EQ(date_of("  "), "empty");
  EXPECT_EQ(date_of(" 1970-01-02 "), "1");
  for (const char* bad : {"2024-1-05", "2024-01-5", "24-01-05", "2024/01/05", "20240105", "2024-01-05x",
                          "2024-01-05T00:00:00", "2024-01 -05", "+2024-01-05", "2024-01-05\r", "abcd-ef-gh"}) {
    EXPECT_EQ(date_of(bad), "bad") << bad;
  }
}

TEST(FormatDate, OutsideTheParsedYears) {
  EXPECT_EQ(format_date(-354'286), "0999-12-31");
  EXPECT_EQ(format_date(std::numeric_limits<std::int32_t>::max()), "5881580-07-11");
  EXPECT_EQ(format_date(-719'528), "0000-01-01");  // year 0 (1 BC) is a leap year: 719,162 + 366 days
  EXPECT_EQ(format_date(-719'529), "-1-12-31");
}

// ---- timestamps --------------------------------------------------------------------------------------

TEST(ParseTimestamp, FormsOfTheSameInstant) {
  const std::string utc = "2025-03-14T12:34:56Z";
  for (const char* same : {"2025-03-14T12:34:56", "2025-03-14T12:34:56Z", "2025-03-14t12:34:56z",
                           "2025-03-14 12:34:56", "2025-03-14T12:34:56.999", "2025-03-14T12:34:56,5",
                           "2025-03-14T12:34:56.000000001Z", "2025-03-14T14:34:56+02:00", "2025-03-14T14:34:56+0200",
                           "2025-03-14T14:34:56+02", "2025-03-14T07:04:56-05:30", "2025-03-14T12:34:56+00:00",
                           "2025-03-14T12:34:56-00:00", " 2025-03-14T12:34:56 "}) {
    EXPECT_EQ(timestamp_of(same), utc) << same;
  }
  EXPECT_EQ(timestamp_of("2025-03-14T12:34"), "2025-03-14T12:34:00Z");
  EXPECT_EQ(timestamp_of("2025-03-14T12:34+01:00"), "2025-03-14T11:34:00Z");
  EXPECT_EQ(timestamp_of("2025-03-14"), "2025-03-14T00:00:00Z");  // a bare date is midnight UTC
}

TEST(ParseTimestamp, OffsetsCrossDaysMonthsAndYears) {
  EXPECT_EQ(timestamp_of("2025-03-14T01:00:00+02:00"), "2025-03-13T23:00:00Z");
  EXPECT_EQ(timestamp_of("2024-12-31T23:30:00-01:00"), "2025-01-01T00:30:00Z");
  EXPECT_EQ(timestamp_of("2024-03-01T00:00:00+00:01"), "2024-02-29T23:59:00Z");
  EXPECT_EQ(timestamp_of("1969-12-31T23:59:59Z"), "1969-12-31T23:59:59Z");
  EXPECT_EQ(timestamp_of("1000-01-01T00:00:00Z"), "1000-01-01T00:00:00Z");
  EXPECT_EQ(timestamp_of("9999-12-31T23:59:59Z"), "9999-12-31T23:59:59Z");
  std::int64_t seconds = 0;
  ASSERT_EQ(parse_timestamp("1969-12-31T23:59:59.9", seconds), FieldStatus::ok);
  EXPECT_EQ(seconds, -1);  // truncated to the second the instant falls in
  ASSERT_EQ(parse_timestamp("1970-01-01T00:00:00Z", seconds), FieldStatus::ok);
  EXPECT_EQ(seconds, 0);
}

TEST(ParseTimestamp, InvalidFieldsAndGarbage) {
  EXPECT_EQ(timestamp_of(""), "empty");
  EXPECT_EQ(timestamp_of(" \t"), "empty");
  for (const char* bad :
       {"2025-13-14T12:34:56", "2025-02-30T12:34:56", "2023-02-29T00:00:00", "2025-03-14T25:00:00",
        "2025-03-14T24:00:00", "2025-03-14T12:60:00", "2025-03-14T12:34:60", "2025-03-14T12:34:56+24:00",
        "2025-03-14T12:34:56+01:60", "2025-03-14T12:34:56+1", "2025-03-14T12:34:56+01:", "2025-03-14T12:34:56+01:0",
        "2025-03-14T12:34:56 Z", "2025-03-14T12:34:56ZZ", "2025-03-14T12:34:56.", "2025-03-14T12:34:56.x",
        "2025-03-14T12:34:56x", "2025-03-14T12", "2025-03-14T12:3", "2025-03-14T1:34:56", "2025-03-14X12:34:56",
        "2025-03-14  12:34:56", "2025-03-14T", "2025-03-14T12:34.5", "2025-03-14Z", "14/03/2025 12:34:56",
        "2025-03-14T12:34:56\r", "1709900000"}) {
    EXPECT_EQ(timestamp_of(bad), "bad") << bad;
  }
}

TEST(ParseTimestamp, AgreesWithTimegmOnRandomInstantsAndOffsets) {
  std::mt19937_64 random(4);
  std::uniform_int_distribution<std::int64_t> instant(-30'610'224'000, 253'402'300'799);  // 1000-01-01 .. 9999-12-31
  for (int i = 0; i < 100'000; ++i) {
    const std::int64_t seconds = instant(random);
    const auto time = static_cast<std::time_t>(seconds);
    std::tm parts{};
    ASSERT_NE(gmtime_r(&time, &parts), nullptr);
    // Print the same instant in a random zone, then parse it back.
    const int offset_minutes = static_cast<int>(random() % (2 * 23 * 60 + 1)) - 23 * 60;
    const auto local_time = static_cast<std::time_t>(seconds + offset_minutes * 60);
    std::tm local{};
    ASSERT_NE(gmtime_r(&local_time, &local), nullptr);
    if (local.tm_year + 1900 < 1000 || local.tm_year + 1900 > 9999) continue;
    char text[64];
    const int magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", local.tm_year + 1900, local.tm_mon + 1,
                  local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec, offset_minutes < 0 ? '-' : '+',
                  magnitude / 60, magnitude % 60);
    std::int64_t parsed = 0;
    ASSERT_EQ(parse_timestamp(text, parsed), FieldStatus::ok) << text;
    ASSERT_EQ(parsed, seconds) << text;
    ASSERT_EQ(parsed, static_cast<std::int64_t>(timegm(&parts)));
    ASSERT_EQ(timestamp_of(format_timestamp(seconds)), format_timestamp(seconds));
  }
}

TEST(FormatTimestamp, ExtremeValuesDoNotOverflow) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_timestamp(-1), "1969-12-31T23:59:59Z");
  EXPECT_FALSE(format_timestamp(int64_min).empty());
  EXPECT_FALSE(format_timestamp(int64_max).empty());
}

// ---- the inline fast paths against the full parsers ----------------------------------------------
// Every parser is a fast path for the plain form plus the full parser (detail::*_careful) for the
// rest; both must give the same status and value for every text. Texts are drawn near the fast
// paths' shapes: random bytes of digit-like classes, and plain values with one byte replaced.

/// Status and value (when ok) of one parse, comparable.
template <class Value>
std::string outcome(FieldStatus status, Value value) {
  return status == FieldStatus::ok ? "ok " + std::to_string(value) : status == FieldStatus::empty ? "empty" : "bad";
}

std::string fast_int64(std::string_view text) {
  std::int64_t value = 0;
  const FieldStatus status = parse_int64(text, value);
  return outcome(status, value);
}
std::string careful_int64(std::string_view text) {
  std::int64_t value = 0;
  const FieldStatus status = detail::parse_int64_careful(text, value);
  return outcome(status, value);
}
std::string fast_decimal(std::string_view text, int scale) {
  std::int64_t units = 0;
  const FieldStatus status = parse_decimal(text, scale, units);
  return outcome(status, units);
}
std::string careful_decimal(std::string_view text, int scale) {
  std::int64_t units = 0;
  const FieldStatus status = detail::parse_decimal_careful(text, scale, units);
  return outcome(status, units);
}
std::string fast_date(std::string_view text) {
  std::int32_t days = 0;
  const FieldStatus status = parse_date(text, days);
  return outcome(status, days);
}
std::string careful_date(std::string_view text) {
  std::int32_t days = 0;
  const FieldStatus status = detail::parse_date_careful(text, days);
  return outcome(status, days);
}
std::string fast_timestamp(std::string_view text) {
  std::int64_t seconds = 0;
  const FieldStatus status = parse_timestamp(text, seconds);
  return outcome(status, seconds);
}
std::string careful_timestamp(std::string_view text) {
  std::int64_t seconds = 0;
  const FieldStatus status = detail::parse_timestamp_careful(text, seconds);
  return outcome(status, seconds);
}

/// A byte that a digit-reading fast path could mistake: digits, their neighbours in ASCII
/// ('/' and ':'), separators, blanks, signs, letters, and bytes with the top bit set.
char tricky_byte(std::mt19937_64& random) {
  static constexpr char bytes[] = "0123456789/:-.+ \tTtZz,e\r\x00\x7f\x80\xb0\xba\xff";
  return bytes[random() % (sizeof bytes - 1)];  // the terminating NUL left out (one NUL is inside)
}

TEST(FastPaths, DigitPairsAndWordLayoutsAgreeWithABytewiseCheck) {
  for (int first = 0; first < 256; ++first) {
    for (int second = 0; second < 256; ++second) {
      const char pair[2] = {static_cast<char>(first), static_cast<char>(second)};
      unsigned value = 0;
      const bool digits = first >= '0' && first <= '9' && second >= '0' && second <= '9';
      ASSERT_EQ(detail::two_digits(pair, value), digits) << first << " " << second;
      if (digits) {
        ASSERT_EQ(value, static_cast<unsigned>((first - '0') * 10 + second - '0'));
      }
      // The same two bytes at every position of an otherwise valid word.
      for (int at = 0; at < 7; ++at) {
        char word[8];
        std::memcpy(word, "12:34:56", 8);
        word[at] = pair[0];
        word[at + 1] = pair[1];
        bool fits_layout = true;
        for (int i = 0; i < 8; ++i) {
          const bool digit_place = i != 2 && i != 5;
          fits_layout = fits_layout && (digit_place ? word[i] >= '0' && word[i] <= '9' : word[i] == ':');
        }
        std::uint64_t values = 0;
        if constexpr (detail::swar_available) {
          ASSERT_EQ(detail::fits(detail::load_word(word), detail::WordLayout("00:00:00"), values), fits_layout)
              << std::string(word, 8);
        }
      }
    }
  }
}

TEST(FastPaths, EightDigitValues) {
  std::mt19937_64 random(11);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t value = random() % 100'000'000;
    char text[9];
    std::snprintf(text, sizeof text, "%08llu", static_cast<unsigned long long>(value));
    std::uint64_t values = 0;
    ASSERT_TRUE(detail::fits(detail::load_word(text), detail::WordLayout("00000000"), values)) << text;
    ASSERT_EQ(detail::eight_digit_value(values), value) << text;
  }
}

TEST(FastPaths, AgreeWithTheFullParsersOnRandomTexts) {
  std::mt19937_64 random(12);
  for (int i = 0; i < 400'000; ++i) {
    std::string text(random() % 26, '0');
    for (char& c : text) c = random() % 3 == 0 ? tricky_byte(random) : static_cast<char>('0' + random() % 10);
    ASSERT_EQ(fast_int64(text), careful_int64(text)) << ::testing::PrintToString(text);
    const int scale = static_cast<int>(random() % (max_decimal_scale + 1));
    ASSERT_EQ(fast_decimal(text, scale), careful_decimal(text, scale)) << ::testing::PrintToString(text) << " " << scale;
    ASSERT_EQ(fast_date(text), careful_date(text)) << ::testing::PrintToString(text);
    ASSERT_EQ(fast_timestamp(text), careful_timestamp(text)) << ::testing::PrintToString(text);
  }
}

TEST(FastPaths, AgreeWithTheFullParsersOnPlainValuesWithOneByteChanged) {
  std::mt19937_64 random(13);
  std::uniform_int_distribution<std::int64_t> instant(-30'610'224'000, 253'402'300'799);  // 1000-01-01 .. 9999-12-31
  for (int i = 0; i < 400'000; ++i) {
    std::string timestamp = format_timestamp(instant(random));  // "YYYY-MM-DDTHH:MM:SSZ"
    if (random() % 2 == 0) timestamp.pop_back();                 // without the 'Z'
    std::string date = timestamp.substr(0, 10);
    std::string integer = std::to_string(random() >> (random() % 64));
    std::string decimal = std::to_string(random() % 100'000) + "." + std::to_string(random() % 100);
    for (std::string* text : {&timestamp, &date, &integer, &decimal}) {
      if (random() % 4 != 0) (*text)[random() % text->size()] = tricky_byte(random);
    }
    ASSERT_EQ(fast_timestamp(timestamp), careful_timestamp(timestamp)) << ::testing::PrintToString(timestamp);
    ASSERT_EQ(fast_date(date), careful_date(date)) << ::testing::PrintToString(date);
    ASSERT_EQ(fast_int64(integer), careful_int64(integer)) << ::testing::PrintToString(integer);
    const int scale = static_cast<int>(random() % 6);
    ASSERT_EQ(fast_decimal(decimal, scale), careful_decimal(decimal, scale)) << ::testing::PrintToString(decimal);
  }
}

TEST(FastPaths, TheirLimits) {
  // The longest texts the fast paths take, and one digit more, on either side of the int64 range.
  for (const char* text : {"999999999999999999", "9999999999999999999", "000000000000000000", "0000000000000000001",
                           "922337203685477.5807", "99999999999999.9999", "999999999999999.9999", "0.123456789012345678",
                           "12345678.", ".12345678", "9999-12-31T23:59:59Z", "1000-01-01T00:00:00", "2024-02-29",
                           "2100-02-29", "2000-02-29", "1999-12-31T23:59:59ZZ"}) {
    EXPECT_EQ(fast_int64(text), careful_int64(text)) << text;
    for (int scale = 0; scale <= max_decimal_scale; ++scale) {
      EXPECT_EQ(fast_decimal(text, scale), careful_decimal(text, scale)) << text << " " << scale;
    }
    EXPECT_EQ(fast_date(text), careful_date(text)) << text;
    EXPECT_EQ(fast_timestamp(text), careful_timestamp(text)) << text;
  }
}

}  // namespace
}  // namespace omniseg::io
