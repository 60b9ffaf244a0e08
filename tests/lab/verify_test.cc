// verify_test.cc - fio verify headers: known checksum values, a good block passes, and a
// changed data byte, header or offset is caught with fio's message (meta only sees headers).
#include "lab/fio/verify.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace guplab::fio {
namespace {

std::span<const uint8_t> bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(FioVerify, ChecksumsMatchTheirStandardTestVectors) {
  EXPECT_EQ(crc32c(bytes("123456789")), 0xe3069283u);  // the CRC-32C check value
  const auto hex = [](const std::array<uint8_t, 16>& d) {
    std::string s;
    for (uint8_t b : d) s += "0123456789abcdef"[b >> 4], s += "0123456789abcdef"[b & 15];
    return s;
  };
  EXPECT_EQ(hex(md5(bytes(""))), "d41d8cd98f00b204e9800998ecf8427e");  // RFC 1321 appendix A.5
  EXPECT_EQ(hex(md5(bytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hex(md5(bytes("12345678901234567890123456789012345678901234567890123456789012345678901234567890"))),
            "57edf4a22be3c955ac49da2e2107b67a");
}

std::vector<uint8_t> block(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; i++) b[i] = static_cast<uint8_t>(i * 7 + 3);
  return b;
}

TEST(FioVerify, AGoodBlockPassesAndAChangedByteIsCaughtWithFiosMessage) {
  for (VerifyType t : {VerifyType::crc32c, VerifyType::md5}) {
    auto b = block(8192);
    const VerifyBlock blk{"f0", 12288, 42, 7};
    fill_verify(b, 4096, t, blk);
    EXPECT_FALSE(check_verify(b, 4096, t, blk)) << to_string(t);
    b[4096 + 1000] ^= 1;  // data of the second chunk
    auto bad = check_verify(b, 4096, t, blk);
    ASSERT_TRUE(bad) << to_string(t);
    EXPECT_NE(bad->find(std::string(to_string(t)) +
                        ": verify failed at file f0 offset 16384, length 4096 (requested block: offset=12288, "
                        "length=8192)"),
              std::string::npos)
        << *bad;
    EXPECT_NE(bad->find("Expected CRC: "), std::string::npos);
    EXPECT_NE(bad->find("Received CRC: "), std::string::npos);
  }
}

TEST(FioVerify, HeadersCatchAWrongPlaceAndMetaIgnoresData) {
  auto b = block(4096);
  const VerifyBlock blk{"f0", 0, 1, 0};
  fill_verify(b, 4096, VerifyType::meta, blk);
  b[2000] ^= 0xff;
  EXPECT_FALSE(check_verify(b, 4096, VerifyType::meta, blk)) << "meta checks headers only";
  VerifyBlock elsewhere = blk;
  elsewhere.offset = 4096;  // the block read back from another offset (a misdirected write)
  auto bad = check_verify(b, 4096, VerifyType::meta, elsewhere);
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("bad header offset 0, wanted 4096"), std::string::npos) << *bad;
  b[0] = 0;  // the magic
  bad = check_verify(b, 4096, VerifyType::meta, blk);
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("verify: bad magic header"), std::string::npos) << *bad;
}

}  // namespace
}  // namespace guplab::fio
