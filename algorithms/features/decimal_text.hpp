// algorithms/features/decimal_text.hpp — numbers as text for the integrate outputs, fast.
//
// Owns: writing 64-bit integers in decimal and doubles in the shortest text that reads back to
// the same bits — byte for byte what fmt's "{}" writes (features.csv, baskets.dat) — straight into
// a caller's buffer, without format-string parsing or a growing buffer per number. Does not own:
// the files' layout (baskets.cpp, jobs/integrate_command.cpp).
//
// Doubles: fmt's Dragonbox finds the shortest digits; the layout is written here, following fmt's
// rules for "{}" (fixed notation for decimal exponents in [-4, 16), else d.ddde±XX). fmt does not
// publish Dragonbox, so with an fmt other than the one this was checked against (major version 9,
// tests/features/decimal_text_test.cpp compares every path with fmt) the whole number goes
// through fmt::format_to instead.
#pragma once

#include <fmt/compile.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace omniseg::features {

/// Room a caller leaves at `out` for one write_decimal or write_shortest: they write whole blocks
/// of bytes, some past the returned end (those bytes are garbage, to be overwritten or cut off).
inline constexpr std::size_t max_number_chars = 48;

namespace detail {

inline constexpr char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/// The decimal digits of `value`, right-aligned so that they end at `end`; returns their start.
inline char* digits_ending_at(char* end, std::uint64_t value) {
  while (value >= 100) {
    const std::size_t pair = 2 * (value % 100);
    value /= 100;
    *--end = digit_pairs[pair + 1];
    *--end = digit_pairs[pair];
  }
  if (value >= 10) {
    *--end = digit_pairs[2 * value + 1];
    *--end = digit_pairs[2 * value];
  } else {
    *--end = static_cast<char>('0' + value);
  }
  return end;
}

}  // namespace detail

/// Characters of `value` in decimal, a minus sign included.
constexpr std::size_t decimal_length(std::int64_t value) {
  std::uint64_t magnitude = value < 0 ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  std::size_t length = value < 0 ? 2 : 1;
  while (magnitude >= 10) {
    magnitude /= 10;
    ++length;
  }
  return length;
}

/// Writes `value` in decimal at `out` (room for max_number_chars); returns the end.
inline char* write_decimal(char* out, std::int64_t value) {
  std::uint64_t magnitude = static_cast<std::uint64_t>(value);
  if (value < 0) {
    *out++ = '-';
    magnitude = 0 - magnitude;
  }
  // Digits right-aligned in a block, copied as one fixed-size block (no length-dependent copy).
  char block[40];
  char* const end = block + 20;
  const char* begin = detail::digits_ending_at(end, magnitude);
  std::memcpy(out, begin, 20);
  return out + (end - begin);
}

/// Writes `value` as fmt::format("{}", value) does — the shortest text that reads back to the same
/// bits — at `out` (room for max_number_chars); returns the end.
inline char* write_shortest(char* out, double value) {
  // Integral values below 2^53 (counts, days, whole amounts, zero shares) are their integer's digits
  // in fmt's shortest form (its exponent form starts at 1e16); fmt writes -0.0 as "-0".
  constexpr double exact_integers = 9007199254740992.0;  // 2^53
  if (value > -exact_integers && value < exact_integers) {
    const auto integral = static_cast<std::int64_t>(value);
    if (static_cast<double>(integral) == value) {
      if (integral == 0 && std::signbit(value)) {
        *out++ = '-';
        *out++ = '0';
        return out;
      }
      return write_decimal(out, integral);
    }
  }
#if FMT_VERSION >= 90000 && FMT_VERSION < 100000
  if (!std::isfinite(value)) return fmt::format_to(out, FMT_COMPILE("{}"), value);
  if (std::signbit(value)) {
    *out++ = '-';
    value = -value;
  }
  const auto decimal = fmt::detail::dragonbox::to_decimal(value);  // value = significand * 10^exponent
  char block[40];
  char* const digits_end = block + 20;
  const char* digits = detail::digits_ending_at(digits_end, decimal.significand);
  const int size = static_cast<int>(digits_end - digits);
  const int exponent = decimal.exponent;
  const int output_exponent = exponent + size - 1;  // of the first digit
  if (output_exponent < -4 || output_exponent >= 16) {
    // d[.ddd]e±XX, at least two exponent digits.
    *out++ = digits[0];
    if (size > 1) {
      *out++ = '.';
      std::memcpy(out, digits + 1, 20);
      out += size - 1;
    }
    *out++ = 'e';
    int magnitude = output_exponent;
    *out++ = magnitude < 0 ? '-' : '+';
    if (magnitude < 0) magnitude = -magnitude;
    if (magnitude >= 100) {
      *out++ = static_cast<char>('0' + magnitude / 100);
      magnitude %= 100;
    }
    *out++ = detail::digit_pairs[2 * magnitude];
    *out++ = detail::digit_pairs[2 * magnitude + 1];
    return out;
  }
  if (exponent >= 0) {  // an integer of 17 digits or fewer: the digits, then zeros
    std::memcpy(out, digits, 20);
    out += size;
    std::memset(out, '0', 16);
    return out + exponent;
  }
  if (exponent + size > 0) {  // ddd.ddd
    const int whole = exponent + size;
    std::memcpy(out, digits, 20);
    out += whole;
    *out++ = '.';
    std::memcpy(out, digits + whole, 20);
    return out + (size - whole);
  }
  // 0.000ddd (at most three zeros after the point, by the exponent bound above)
  *out++ = '0';
  *out++ = '.';
  std::memset(out, '0', 4);
  out += -(exponent + size);
  std::memcpy(out, digits, 20);
  return out + size;
#else
  return fmt::format_to(out, FMT_COMPILE("{}"), value);
#endif
}

}  // namespace omniseg::features
