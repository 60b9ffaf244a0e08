// units_test.cc - fio size/time parsing and num2str() formatting, checked against what
// fio 3.33 prints for the same numbers.
#include "lab/fio/units.h"

#include <gtest/gtest.h>

namespace guplab::fio {
namespace {

TEST(FioUnits, SizePowersOfTwo) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("4K"), 4096u);
  EXPECT_EQ(parse_size("4kb"), 4096u);
  EXPECT_EQ(parse_size("4KB"), 4096u);
  EXPECT_EQ(parse_size("4Ki"), 4096u);
  EXPECT_EQ(parse_size("1m"), 1048576u);
  EXPECT_EQ(parse_size("1M"), 1048576u);
  EXPECT_EQ(parse_size("1mb"), 1048576u);
  EXPECT_EQ(parse_size("1g"), 1ull << 30);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_size("2Gi"), 2ull << 30);
  EXPECT_EQ(parse_size("1t"), 1ull << 40);
  EXPECT_EQ(parse_size("1p"), 1ull << 50);
  EXPECT_EQ(parse_size("100b"), 100u);
  EXPECT_EQ(parse_size("0x1000"), 4096u);
  EXPECT_EQ(parse_size("  8k "), 8192u);
}

TEST(FioUnits, SizeIecSpellingIsPowerOfTenLikeFio) {
  // fio 3.33, kb_base=1024 (default): --size=1MiB does 999424 bytes of 4k I/O, i.e. 10^6.
  EXPECT_EQ(parse_size("1KiB"), 1000u);
  EXPECT_EQ(parse_size("1kib"), 1000u);
  EXPECT_EQ(parse_size("1MiB"), 1000000u);
  EXPECT_EQ(parse_size("1GiB"), 1000000000u);
}

TEST(FioUnits, SizeMalformed) {
  for (const char* s : {"", "k", "1.5m", "4kx", "-1", "4 k k", "0x", "0x10k", "12abc", "1e6"})
    EXPECT_FALSE(parse_size(s).has_value()) << s;
  EXPECT_FALSE(parse_size("99999999999999999999").has_value());  // overflows 64 bits
  EXPECT_FALSE(parse_size("16777216t").has_value());             // 2^64
}

TEST(FioUnits, Time) {
  EXPECT_EQ(parse_time_us("10"), 10000000u);
  EXPECT_EQ(parse_time_us("10s"), 10000000u);
  EXPECT_EQ(parse_time_us("500ms"), 500000u);
  EXPECT_EQ(parse_time_us("5msec"), 5000u);
  EXPECT_EQ(parse_time_us("250us"), 250u);
  EXPECT_EQ(parse_time_us("7usec"), 7u);
  EXPECT_EQ(parse_time_us("1m"), 60000000u);
  EXPECT_EQ(parse_time_us("1M"), 60000000u);
  EXPECT_EQ(parse_time_us("2h"), 7200000000u);
  EXPECT_EQ(parse_time_us("1d"), 86400000000u);
  for (const char* s : {"", "s", "10sec", "1.5s", "10x", "0x10"})
    EXPECT_FALSE(parse_time_us(s).has_value()) << s;
}

TEST(FioUnits, TimeSaysWhetherMalformedOrTooLarge) {
  bool too_large = true;
  EXPECT_EQ(parse_time_us("10s", &too_large), 10000000u);
  EXPECT_FALSE(too_large);
  for (const char* s : {"99999999999d", "18446744073709551616", " 213503982335d "}) {
    too_large = false;
    EXPECT_FALSE(parse_time_us(s, &too_large).has_value()) << s;
    EXPECT_TRUE(too_large) << s;
  }
  for (const char* s : {"", "s", "10sec", "1.5s", "99999999999x", "0x10", "-1"}) {
    too_large = true;
    EXPECT_FALSE(parse_time_us(s, &too_large).has_value()) << s;
    EXPECT_FALSE(too_large) << s;
  }
}

TEST(FioUnits, Uint) {
  EXPECT_EQ(parse_uint("64"), 64u);
  EXPECT_EQ(parse_uint(" 7 "), 7u);
  EXPECT_FALSE(parse_uint("4k").has_value());
  EXPECT_FALSE(parse_uint("").has_value());
  EXPECT_FALSE(parse_uint("-1").has_value());
}

TEST(FioNum2str, IopsMagnitudes) {
  // IOPS=%s uses num2str(iops, 4, 1, 0, none).
  EXPECT_EQ(num2str(0, 4, 1, false, Unit::none), "0");
  EXPECT_EQ(num2str(999, 4, 1, false, Unit::none), "999");
  EXPECT_EQ(num2str(1000, 4, 1, false, Unit::none), "1000");
  EXPECT_EQ(num2str(9355, 4, 1, false, Unit::none), "9355");      // fio: write: IOPS=9355
  EXPECT_EQ(num2str(19043, 4, 1, false, Unit::none), "19.0k");    // fio: read: IOPS=19.0k
  EXPECT_EQ(num2str(30661, 4, 1, false, Unit::none), "30.7k");    // fio: read: IOPS=30.7k
  EXPECT_EQ(num2str(53194, 4, 1, false, Unit::none), "53.2k");    // fio: read: IOPS=53.2k
  EXPECT_EQ(num2str(190000, 4, 1, false, Unit::none), "190k");
  EXPECT_EQ(num2str(684497, 4, 1, false, Unit::none), "684k");    // fio: IOPS=684k
  EXPECT_EQ(num2str(1500000, 4, 1, false, Unit::none), "1500k");  // fio prints 1.5M IOPS so
  EXPECT_EQ(num2str(6878455, 4, 1, false, Unit::none), "6878k");  // fio: IOPS=6878k
  EXPECT_EQ(num2str(15000000, 4, 1, false, Unit::none), "15.0M");
  EXPECT_EQ(num2str(99949, 4, 1, false, Unit::none), "99.9k");
  // fio's "carry rounding error": the decimals round to 1.0 and carry, one digit too many.
  EXPECT_EQ(num2str(99999, 4, 1, false, Unit::none), "100.0k");
}

TEST(FioNum2str, BandwidthAndBytes) {
  // BW=%s (%s): num2str(bytes/s, 4, 1, pow2, B/s) and its other-base twin.
  EXPECT_EQ(num2str(512, 4, 1, true, Unit::byte_per_sec), "512B/s");
  EXPECT_EQ(num2str(4096, 4, 1, true, Unit::byte_per_sec), "4096B/s");
  EXPECT_EQ(num2str(65536, 4, 1, true, Unit::byte_per_sec), "64.0KiB/s");
  EXPECT_EQ(num2str(217885922, 4, 1, true, Unit::byte_per_sec), "208MiB/s");  // fio: 208MiB/s
  EXPECT_EQ(num2str(217885922, 4, 1, false, Unit::byte_per_sec), "218MB/s");  // (218MB/s)
  EXPECT_EQ(num2str(125587252, 4, 1, true, Unit::byte_per_sec), "120MiB/s");
  EXPECT_EQ(num2str(125587252, 4, 1, false, Unit::byte_per_sec), "126MB/s");
  EXPECT_EQ(num2str(53680666, 4, 1, true, Unit::byte_per_sec), "51.2MiB/s");
  EXPECT_EQ(num2str(53680666, 4, 1, false, Unit::byte_per_sec), "53.7MB/s");
  EXPECT_EQ(num2str(28174151680, 4, 1, true, Unit::byte_per_sec), "26.2GiB/s");
  EXPECT_EQ(num2str(28174151680, 4, 1, false, Unit::byte_per_sec), "28.2GB/s");
  EXPECT_EQ(num2str(717745508020, 4, 1, true, Unit::byte_per_sec), "668GiB/s");
  EXPECT_EQ(num2str(717745508020, 4, 1, false, Unit::byte_per_sec), "718GB/s");
  EXPECT_EQ(num2str(67108864, 4, 1, true, Unit::byte), "64.0MiB");
  EXPECT_EQ(num2str(67108864, 4, 1, false, Unit::byte), "67.1MB");
  EXPECT_EQ(num2str(376889344, 4, 1, true, Unit::byte), "359MiB");
  EXPECT_EQ(num2str(1073741824, 4, 1, true, Unit::byte), "1024MiB");
  EXPECT_EQ(num2str(718463254528, 4, 1, true, Unit::byte), "669GiB");
  EXPECT_EQ(num2str(1048576, 4, 1, true, Unit::byte), "1024KiB");  // bs=(R) 1024KiB-1024KiB
  EXPECT_EQ(num2str(8, 4, 1, true, Unit::bit), "64bit");
}

TEST(FioNum2str, KibBaseAndLatencyWidth) {
  // The progress line passes KiB/s with base 1024.
  EXPECT_EQ(num2str(716800, 4, 1024, true, Unit::byte_per_sec), "700MiB/s");
  EXPECT_EQ(num2str(91852, 4, 1024, true, Unit::byte_per_sec), "89.7MiB/s");
  // Latency min/max use num2str(v, 6, 1, 0, none).
  EXPECT_EQ(num2str(718274, 6, 1, false, Unit::none), "718274");
  EXPECT_EQ(num2str(23161292, 6, 1, false, Unit::none), "23161k");
  EXPECT_EQ(num2str(4197812, 6, 1, false, Unit::none), "4197.8k");
}

TEST(FioStrprintf, MatchesPrintf) {
  EXPECT_EQ(strprintf("avg=%5.02f", 8.734), "avg= 8.73");
  EXPECT_EQ(strprintf("%s-%d", "x", 3), "x-3");
  EXPECT_EQ(strprintf("%s", ""), "");
}

}  // namespace
}  // namespace guplab::fio
