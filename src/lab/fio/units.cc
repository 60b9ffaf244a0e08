// units.cc - fio size/time value parsing and num2str() formatting.
#include "lab/fio/units.h"
#include "base/bug.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstdarg>
#include <cstdio>

namespace guplab::fio {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/** Leading unsigned number (decimal, or 0x-hex when @allow_hex) of @s; the rest in @rest. */
std::optional<uint64_t> leading_number(std::string_view s, bool allow_hex, std::string_view* rest) {
  unsigned radix = 10;
  if (allow_hex && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    radix = 16;
    s.remove_prefix(2);
  }
  uint64_t v = 0;
  size_t i = 0;
  for (; i < s.size(); i++) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    unsigned digit;
    if (std::isdigit(c)) {
      digit = c - '0';
    } else if (radix == 16 && std::isxdigit(c)) {
      digit = static_cast<unsigned>(std::tolower(c) - 'a' + 10);
    } else {
      break;
    }
    if (__builtin_mul_overflow(v, radix, &v) || __builtin_add_overflow(v, digit, &v))
      return std::nullopt;
  }
  if (i == 0) return std::nullopt;
  *rest = s.substr(i);
  if (radix == 16 && !rest->empty()) return std::nullopt;  // "0x1b": no suffixes after hex
  return v;
}

std::optional<uint64_t> size_multiplier(std::string_view suffix) {
  const std::string s = lower(suffix);
  if (s.empty() || s == "b") return 1;
  static constexpr std::array<char, 5> kPrefixes = {'k', 'm', 'g', 't', 'p'};
  for (size_t pow = 1; pow <= kPrefixes.size(); pow++) {
    const char p = kPrefixes[pow - 1];
    uint64_t base;
    if (s == std::string{p} || s == std::string{p, 'b'} || s == std::string{p, 'i'}) {
      base = 1024;  // compatibility mode: SI spellings are powers of two
    } else if (s == std::string{p, 'i', 'b'}) {
      base = 1000;  // ... and IEC spellings powers of ten, as fio 3.33 does by default
    } else {
      continue;
    }
    uint64_t mult = 1;
    for (size_t i = 0; i < pow; i++) mult *= base;
    return mult;
  }
  return std::nullopt;
}

std::optional<uint64_t> time_multiplier_us(std::string_view suffix) {
  const std::string s = lower(suffix);
  if (s.empty() || s == "s") return 1000000;
  if (s == "us" || s == "usec") return 1;
  if (s == "ms" || s == "msec") return 1000;
  if (s == "m") return 60ull * 1000000;
  if (s == "h") return 3600ull * 1000000;
  if (s == "d") return 86400ull * 1000000;
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view s) {
  std::string_view rest;
  const auto n = leading_number(trim(s), true, &rest);
  if (!n) return std::nullopt;
  const auto mult = size_multiplier(rest);
  if (!mult) return std::nullopt;
  uint64_t v;
  if (__builtin_mul_overflow(*n, *mult, &v)) return std::nullopt;
  return v;
}

std::optional<uint64_t> parse_time_us(std::string_view s, bool* too_large) {
  if (too_large) {
    // Well-formed: digits, then a time suffix (or none).
    const std::string_view t = trim(s);
    size_t digits = 0;
    while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) digits++;
    *too_large = digits > 0 && time_multiplier_us(t.substr(digits)).has_value();
  }
  std::string_view rest;
  const auto n = leading_number(trim(s), false, &rest);
  if (!n) return std::nullopt;
  const auto mult = time_multiplier_us(rest);
  if (!mult) return std::nullopt;
  uint64_t v;
  if (__builtin_mul_overflow(*n, *mult, &v)) return std::nullopt;
  if (too_large) *too_large = false;
  return v;
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  std::string_view rest;
  const auto n = leading_number(trim(s), false, &rest);
  if (!n || !rest.empty()) return std::nullopt;
  return n;
}

std::string strprintf(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  va_list ap2;
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, format, ap);
  va_end(ap);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, format, ap2);
  va_end(ap2);
  return out;
}

std::string num2str(uint64_t num, int maxlen, uint64_t base, bool pow2, Unit unit) {
  GUPLAB_CHECK(maxlen >= 1 && maxlen <= 20);
  GUPLAB_CHECK(base >= 1);
  static constexpr std::array<const char*, 7> kSi = {"", "k", "M", "G", "T", "P", "E"};
  static constexpr std::array<const char*, 7> kIec = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  static constexpr std::array<const char*, 6> kUnit = {"", "/s", "B", "bit", "B/s", "bit/s"};
  const auto& prefix = pow2 ? kIec : kSi;
  const char* unit_str = kUnit[static_cast<size_t>(unit)];
  const uint64_t thousand = pow2 ? 1024 : 1000;

  size_t post = 0;  // how many thousands one unit of num already is
  for (; base > 1; post++) base /= thousand;
  if (unit == Unit::bit || unit == Unit::bit_per_sec) num *= 8;

  // Divide until the digits fit, remembering the last remainder for decimals / rounding.
  bool divided = false;
  uint64_t modulo = 0;
  while (post < prefix.size()) {
    if (fmt::formatted_size("{}", num) <= static_cast<size_t>(maxlen)) break;
    modulo = num % thousand;
    num /= thousand;
    divided = true;
    post++;
  }
  if (post >= prefix.size()) post = 0;  // fio's behaviour past exa: drop the prefix
  if (!divided) return fmt::format("{}{}{}", num, prefix[post], unit_str);

  const int digits = static_cast<int>(fmt::formatted_size("{}", num));
  if (maxlen - digits <= 1) {
    if (modulo >= thousand / 2) num++;  // no room for decimals: round
    return fmt::format("{}{}{}", num, prefix[post], unit_str);
  }
  // Room for decimals: format the remainder as a fraction with what room is left; a fraction
  // that rounds up to 1.0 carries into the integer part.
  const std::string frac = strprintf("%.*f", maxlen - digits - 1,
                                     static_cast<double>(modulo) / static_cast<double>(thousand));
  if (frac[0] == '1') num++;
  return fmt::format("{}.{}{}{}", num, frac.substr(2), prefix[post], unit_str);
}

}  // namespace guplab::fio
