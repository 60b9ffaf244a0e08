// config_test.cc - names and sizes parse; a machine boots with what it was given.
#include <gtest/gtest.h>

#include "machine/config.h"
#include "machine/machine.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"

namespace guplab {
namespace {

TEST(ConfigTest, DesignAndPolicyNamesRoundTrip) {
  for (PinDesign d : kAllPinDesigns) EXPECT_EQ(parse_pin_design(to_string(d)), d);
  for (WritebackPolicy p : kAllWritebackPolicies) EXPECT_EQ(parse_writeback_policy(to_string(p)), p);
  EXPECT_FALSE(parse_pin_design("biased").has_value());
  EXPECT_FALSE(parse_writeback_policy("").has_value());
}

TEST(ConfigTest, CowReuseNamesRoundTrip) {
  for (CowReuse r : {CowReuse::refcount, CowReuse::mapcount}) EXPECT_EQ(parse_cow_reuse(to_string(r)), r);
  EXPECT_FALSE(parse_cow_reuse("pagecount").has_value());
  EXPECT_EQ(MachineConfig{}.cow_reuse, CowReuse::refcount);
  EXPECT_FALSE(MachineConfig{}.refuse_longterm_file_pins);
}

TEST(ConfigTest, SizesParse) {
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("1g"), 1ull << 30);
  EXPECT_EQ(parse_size("512M"), 512ull << 20);
  EXPECT_FALSE(parse_size("").has_value());
  EXPECT_FALSE(parse_size("12q").has_value());
  EXPECT_FALSE(parse_size("k").has_value());
  EXPECT_FALSE(parse_size("99999999999999999999").has_value());
}

TEST(MachineBootTest, RamZonesAndZeroPage) {
  MachineConfig c;
  c.ram_bytes = 32ull << 20;
  Machine m(c);
  EXPECT_EQ(m.mem().nr_pages(), (32ull << 20) / 4096);
  EXPECT_EQ(m.boot_free_pages(), m.mem().nr_pages() - 1);  // all but the zero page
  EXPECT_EQ(m.vmstat().read(NR_FREE_PAGES), static_cast<int64_t>(m.boot_free_pages()));
  page* z = m.zero_page();
  EXPECT_TRUE(PageZero(z));
  EXPECT_TRUE(PageReserved(z));
  EXPECT_EQ(page_machine(z), &m);
  EXPECT_GT(m.zones()[ZONE_MOVABLE].spanned_pages, m.zones()[ZONE_NORMAL].spanned_pages);
  EXPECT_NE(m.vmstat().format().find("nr_foll_pin_acquired 0\n"), std::string::npos);
}

TEST(MachineBootTest, BadRamSizeIsRefused) {
  MachineConfig c;
  c.ram_bytes = 3 << 20;  // not a multiple of 2 MiB
  EXPECT_THROW(Machine m(c), std::invalid_argument);
}

TEST(MachineBootTest, TwoMachinesAreIndependent) {
  MachineConfig c;
  c.ram_bytes = 8ull << 20;
  Machine a(c), b(c);
  page* pa = nullptr;
  a.run([&] { pa = alloc_page(gfp_t::GFP_KERNEL); });
  EXPECT_EQ(page_machine(pa), &a);
  EXPECT_EQ(nr_free_pages(&a) + 1, a.boot_free_pages());
  EXPECT_EQ(nr_free_pages(&b), b.boot_free_pages());
  a.run([&] { __free_page(pa); });
  EXPECT_EQ(nr_free_pages(&a), a.boot_free_pages());
}

}  // namespace
}  // namespace guplab
