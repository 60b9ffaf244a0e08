// strict_number.h - strict numbers on guplab's command lines. A whole number is decimal
// digits (or 0x and hex digits where a seed is meant), with no sign, no spaces, no fraction,
// no exponent, no leading zero and no trailing text (CLI11 would read "010" as octal 8),
// and must fit in 64 bits and in its option's range; a
// fraction is a finite decimal in its range. A refused value gets a message naming the value
// and the allowed range; CLI11 puts the option's name in front ("--seeds: '-5' is not ...").
// Why: CLI11 alone reads "-5" into an unsigned option as 2^64-5 (issue 15).
// Threading: stateless functions; safe from any thread.
#pragma once
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace guplab::tools {

/**
 * parse_whole() - @s as an unsigned whole number: decimal digits, or "0x" and hex digits when
 * @hex. nullopt for anything else (a sign, spaces, a fraction, a suffix) or a value past 2^64-1.
 */
inline std::optional<uint64_t> parse_whole(std::string_view s, bool hex = false) {
  unsigned radix = 10;
  if (hex && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    radix = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (radix == 16 && c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else if (radix == 16 && c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
    else return std::nullopt;
    if (__builtin_mul_overflow(v, radix, &v) || __builtin_add_overflow(v, d, &v)) return std::nullopt;
  }
  return v;
}

/** whole_problem() - why @s is not a whole number in [@lo, @hi] with no leading zero (empty if it is). */
inline std::string whole_problem(const std::string& s, uint64_t lo, uint64_t hi, bool hex = false) {
  const std::string range = hi == UINT64_MAX ? "from " + std::to_string(lo) + " to 2^64-1"
                                             : "from " + std::to_string(lo) + " to " + std::to_string(hi);
  const auto v = parse_whole(s, hex);
  if (!v) {
    const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
    return "'" + s + "' is not " + (digits ? "a number that fits in 64 bits" : hex ? "a whole number (decimal or 0x hex)" : "a whole number") +
           "; allowed: " + range;
  }
  if (s.size() > 1 && s[0] == '0' && s[1] != 'x' && s[1] != 'X')
    return "'" + s + "' has a leading zero (it would be read as octal); allowed: " + range;
  if (*v < lo || *v > hi) return "'" + s + "' is out of range; allowed: " + range;
  return {};
}

/**
 * parse_shard() - "K/N" (explore --shard, and the "shard" its JSON carries): two whole
 * decimal numbers without leading zeros, 1 <= K <= N <= @max_n. Returns {K, N} or nullopt.
 */
inline std::optional<std::pair<uint64_t, uint64_t>> parse_shard(std::string_view s, uint64_t max_n) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view ks = s.substr(0, slash), ns = s.substr(slash + 1);
  for (std::string_view part : {ks, ns})
    if (part.size() > 1 && part[0] == '0') return std::nullopt;
  const auto k = parse_whole(ks), n = parse_whole(ns);
  if (!k || !n || *k < 1 || *k > *n || *n > max_n) return std::nullopt;
  return std::make_pair(*k, *n);
}

/** Whole() - a CLI11 check: a whole number from @lo to @hi (hex too when @hex). */
inline CLI::Validator Whole(uint64_t lo, uint64_t hi, bool hex = false) {
  return CLI::Validator([lo, hi, hex](std::string& s) { return whole_problem(s, lo, hi, hex); },
                        "N in [" + std::to_string(lo) + ".." + std::to_string(hi) + "]", "Whole");
}

/** Fraction() - a CLI11 check: a finite decimal number from @lo to @hi (no nan, no inf). */
inline CLI::Validator Fraction(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        const std::string range = "allowed: " + CLI::detail::to_string(lo) + " to " + CLI::detail::to_string(hi);
        char* end = nullptr;
        const bool shape = !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
        const double v = shape ? std::strtod(s.c_str(), &end) : 0;
        if (!shape || end != s.c_str() + s.size() || !std::isfinite(v)) return "'" + s + "' is not a decimal number; " + range;
        if (v < lo || v > hi) return "'" + s + "' is out of range; " + range;
        return {};
      },
      "X in [" + CLI::detail::to_string(lo) + ".." + CLI::detail::to_string(hi) + "]", "Fraction");
}

}  // namespace guplab::tools
