// verify.cc - verify headers and checksums of guplab fio's written blocks.
#include "lab/fio/verify.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>

namespace guplab::fio {

namespace {

constexpr uint16_t kMagic = 0xacca;  // fio's verify magic

/** The header at the start of every chunk; the checksum follows it. */
struct Header {
  uint16_t magic;
  uint16_t type;
  uint32_t len;
  uint64_t offset;
  uint64_t seed;
  uint64_t numberio;
  uint32_t hdr_crc;  // crc32c of the bytes above
  uint32_t pad;
};
static_assert(sizeof(Header) == 40);
constexpr size_t kHdrCrcBytes = offsetof(Header, hdr_crc);

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

size_t sum_bytes(VerifyType t) {
  switch (t) {
    case VerifyType::crc32c: return 4;
    case VerifyType::md5: return 16;
    default: return 0;
  }
}

/** checksum() - @t's checksum of @data, as bytes. */
std::array<uint8_t, 16> checksum(VerifyType t, std::span<const uint8_t> data) {
  std::array<uint8_t, 16> out{};
  if (t == VerifyType::crc32c) {
    const uint32_t c = crc32c(data);
    std::memcpy(out.data(), &c, 4);
  } else if (t == VerifyType::md5) {
    out = md5(data);
  }
  return out;
}

std::string hex(std::span<const uint8_t> b, VerifyType t) {
  if (t == VerifyType::crc32c) {
    uint32_t c;
    std::memcpy(&c, b.data(), 4);
    return fmt::format("{:08x}", c);
  }
  std::string s;
  for (uint8_t x : b) s += fmt::format("{:02x}", x);
  return s;
}

uint32_t rotl(uint32_t x, unsigned c) { return (x << c) | (x >> (32 - c)); }

}  // namespace

uint32_t crc32c(std::span<const uint8_t> data) {
  uint32_t c = ~0u;
  for (uint8_t b : data) c = kCrc32cTable[(c ^ b) & 0xff] ^ (c >> 8);
  return ~c;
}

std::array<uint8_t, 16> md5(std::span<const uint8_t> data) {
  // Per-round shift amounts and the sine-derived constants of RFC 1321, section 3.4.
  static constexpr unsigned kShift[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                          5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                          4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                          6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
  static const std::array<uint32_t, 64> kK = [] {
    std::array<uint32_t, 64> k{};
    for (int i = 0; i < 64; i++) k[i] = static_cast<uint32_t>(std::fabs(std::sin(i + 1.0)) * 4294967296.0);
    return k;
  }();
  uint32_t h[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  // The message, a 0x80 byte, zeros to 56 mod 64, then the bit length (little-endian).
  const uint64_t n = data.size();
  const uint64_t padded = (n + 8) / 64 * 64 + 64;
  const uint64_t bits = n * 8;
  auto byte_at = [&](uint64_t i) -> uint8_t {
    if (i < n) return data[i];
    if (i == n) return 0x80;
    if (i >= padded - 8) return static_cast<uint8_t>(bits >> (8 * (i - (padded - 8))));
    return 0;
  };
  for (uint64_t chunk = 0; chunk < padded; chunk += 64) {
    uint32_t m[16];
    for (int w = 0; w < 16; w++) {
      m[w] = 0;
      for (int b = 0; b < 4; b++) m[w] |= static_cast<uint32_t>(byte_at(chunk + 4 * w + b)) << (8 * b);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
      uint32_t f;
      int g;
      if (i < 16) f = (b & c) | (~b & d), g = i;
      else if (i < 32) f = (d & b) | (~d & c), g = (5 * i + 1) % 16;
      else if (i < 48) f = b ^ c ^ d, g = (3 * i + 5) % 16;
      else f = c ^ (b | ~d), g = (7 * i) % 16;
      const uint32_t t = d;
      d = c;
      c = b;
      b = b + rotl(a + f + kK[i] + m[g], kShift[i]);
      a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
  }
  std::array<uint8_t, 16> out{};
  for (int i = 0; i < 4; i++)
    for (int b = 0; b < 4; b++) out[4 * i + b] = static_cast<uint8_t>(h[i] >> (8 * b));
  return out;
}

uint64_t verify_header_bytes(VerifyType t) { return sizeof(Header) + sum_bytes(t); }

void fill_verify(std::span<uint8_t> buf, uint64_t interval, VerifyType t, const VerifyBlock& blk) {
  const size_t hb = verify_header_bytes(t);
  for (uint64_t at = 0; at + interval <= buf.size(); at += interval) {
    Header h{kMagic, static_cast<uint16_t>(t), static_cast<uint32_t>(interval), blk.offset + at, blk.seed,
             blk.numberio, 0, 0};
    h.hdr_crc = crc32c({reinterpret_cast<const uint8_t*>(&h), kHdrCrcBytes});
    std::memcpy(buf.data() + at, &h, sizeof h);
    const auto sum = checksum(t, buf.subspan(at + hb, interval - hb));
    std::memcpy(buf.data() + at + sizeof h, sum.data(), sum_bytes(t));
  }
}

std::optional<std::string> check_verify(std::span<const uint8_t> buf, uint64_t interval, VerifyType t,
                                        const VerifyBlock& blk) {
  const size_t hb = verify_header_bytes(t);
  for (uint64_t at = 0; at + interval <= buf.size(); at += interval) {
    Header h;
    std::memcpy(&h, buf.data() + at, sizeof h);
    const uint64_t off = blk.offset + at;
    const std::string where = fmt::format("at file {} offset {}, length {} (requested block: offset={}, length={})",
                                          blk.file, off, interval, blk.offset, buf.size());
    if (h.magic != kMagic) return fmt::format("verify: bad magic header {:x}, wanted {:x} {}", h.magic, kMagic, where);
    const uint32_t hc = crc32c({buf.data() + at, kHdrCrcBytes});
    if (hc != h.hdr_crc)
      return fmt::format("verify: bad header crc {:x}, calculated {:x} {}", h.hdr_crc, hc, where);
    if (h.type != static_cast<uint16_t>(t))
      return fmt::format("verify: bad verify type {}, wanted {} {}", h.type, static_cast<unsigned>(t), where);
    if (h.len != interval) return fmt::format("verify: bad header length {}, wanted {} {}", h.len, interval, where);
    if (h.offset != off)
      return fmt::format("{}: verify failed {}\nverify: bad header offset {}, wanted {}", to_string(t), where,
                         h.offset, off);
    if (blk.seed && h.seed != blk.seed)
      return fmt::format("{}: verify failed {}\nverify: bad header seed {:x}, wanted {:x}", to_string(t), where, h.seed,
                         blk.seed);
    if (t == VerifyType::meta) continue;
    const auto want = std::span<const uint8_t>(buf.data() + at + sizeof h, sum_bytes(t));
    const auto got = checksum(t, buf.subspan(at + hb, interval - hb));
    if (std::memcmp(want.data(), got.data(), sum_bytes(t)) != 0)
      return fmt::format("{}: verify failed {}\n       Expected CRC: {}\n       Received CRC: {}", to_string(t), where,
                         hex(want, t), hex({got.data(), sum_bytes(t)}, t));
  }
  return std::nullopt;
}

}  // namespace guplab::fio
