// units.h - fio's units, in and out: size and time values as job files write them, and
// fio's num2str() number formatting as its reports print them ("190k", "741MiB/s", "64.0MiB").
//
// Input follows fio 3.33 with its default kb_base=1024 ("compatibility mode"):
//   k/K/kb/KB/Ki = 1024, m/M/mb/Mi = 1024^2, g, t, p likewise (powers of two), and - the fio
//   quirk, verified against fio 3.33 - the IEC spellings KiB/MiB/GiB/TiB/PiB mean powers of TEN
//   (1KiB = 1000). Suffixes are case-insensitive. Decimal or 0x-hex digits; no fractions.
// Time values default to seconds; suffixes us/usec, ms/msec, s, m, h, d (case-insensitive).
//
// Threading: stateless pure functions; safe from any thread.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace guplab::fio {

/** parse_size() - "4k", "1g", "4096", "0x1000", "1Mi", "1KiB" -> bytes; nullopt if malformed
 *  or if the value overflows 64 bits. */
std::optional<uint64_t> parse_size(std::string_view s);

/** parse_time_us() - "10", "10s", "500ms", "1m", "2h", "250us" -> microseconds (a bare number
 *  is seconds); nullopt if malformed or overflowing. With @too_large, says which: true when
 *  @s is a well-formed time whose microseconds do not fit in 64 bits. */
std::optional<uint64_t> parse_time_us(std::string_view s, bool* too_large = nullptr);

/** parse_uint() - a plain decimal unsigned integer ("64"); nullopt otherwise. */
std::optional<uint64_t> parse_uint(std::string_view s);

/** strprintf() - printf into a std::string; the reports use fio's own printf formats so that
 *  rounding and padding ("avg= 8.73") come out exactly as fio's. */
std::string strprintf(const char* format, ...) __attribute__((format(printf, 1, 2)));

/** The unit suffix num2str() appends (fio's enum n2s_unit). */
enum class Unit : uint8_t { none, per_sec, byte, bit, byte_per_sec, bit_per_sec };

/**
 * num2str() - fio's number formatting, "complete with carry rounding error": divide by 1000
 * (or 1024 when @pow2) until at most @maxlen digits remain, then spend what room is left on
 * decimals. @base says what one unit of @num already is (1, or 1024 for a KiB count).
 * Examples: (190000,4,1,false,none) -> "190k"; (776994816,4,1,true,byte_per_sec) -> "741MiB/s".
 * REQUIRES: 1 <= maxlen <= 20; base >= 1.
 */
std::string num2str(uint64_t num, int maxlen, uint64_t base, bool pow2, Unit unit);

}  // namespace guplab::fio
