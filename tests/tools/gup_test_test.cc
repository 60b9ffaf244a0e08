// gup_test_test.cc - `guplab gup_test` (tools/gup_test.cc) and its host reference
// (tools/host_pin.cc): a small run reports per-page figures and both references, every
// pin it took was released, and a host that refuses the io_uring registration (here: a
// memlock limit, without CAP_IPC_LOCK) is reported with the reason and what to do, not
// as an obscure failure. No figure is checked: they are timings.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tools/gup_test.h"
#include "tools/host_pin.h"

namespace guplab::tools {
namespace {

int64_t vmstat_value(const std::string& vmstat, const std::string& name) {
  const size_t at = vmstat.find(name + " ");
  return at == std::string::npos ? -1 : std::stoll(vmstat.substr(at + name.size() + 1));
}

TEST(GupTestTool, PinFastRunReportsBothReferencesAndReleasesEveryPin) {
  for (int thp : {0, 1}) {
    GupTestOptions opt;
    opt.cmd = GupTestCmd::PIN_FAST_BENCHMARK;
    opt.size_mb = 8;
    opt.nr_pages_per_call = 512;
    opt.repeats = 2;
    opt.thp = thp;
    opt.design = PinDesign::bias;
    opt.baseline = true;
    GupTestReport rep = run_gup_test(opt);
    ASSERT_EQ(rep.runs.size(), 3u) << "--baseline times at least 3 passes of each side";
    for (const auto& r : rep.runs) {
      EXPECT_EQ(r.status, 0);
      EXPECT_EQ(r.pages, (8u << 20) / 4096);
      EXPECT_EQ(r.not_pinned, 0u);
    }
    EXPECT_GT(rep.get_ns_per_page, 0);
    EXPECT_GT(rep.put_ns_per_page, 0);
    EXPECT_GT(rep.baseline_get_ns_per_page, 0);
    EXPECT_GT(rep.baseline_put_ns_per_page, 0);
    EXPECT_TRUE(rep.oops.empty()) << rep.oops;
    const int64_t acquired = vmstat_value(rep.vmstat, "nr_foll_pin_acquired");
    EXPECT_EQ(acquired, 3 * (8 << 20) / 4096);
    EXPECT_EQ(vmstat_value(rep.vmstat, "nr_foll_pin_released"), acquired);
  }
}

TEST(GupTestTool, CoalescedLongtermPinsReleaseEveryPinFolioByFolio) {
  for (int thp : {0, 1}) {
    for (PinDesign d : {PinDesign::bias, PinDesign::folio_pincount, PinDesign::dma_count}) {
      GupTestOptions opt;
      opt.cmd = GupTestCmd::PIN_LONGTERM_BENCHMARK;
      opt.size_mb = 8;
      opt.nr_pages_per_call = 512;
      opt.thp = thp;
      opt.design = d;
      opt.coalesce = true;
      GupTestReport rep = run_gup_test(opt);
      ASSERT_EQ(rep.runs.size(), 1u);
      EXPECT_EQ(rep.runs[0].status, 0);
      EXPECT_EQ(rep.runs[0].not_pinned, 0u);
      EXPECT_TRUE(rep.oops.empty()) << rep.oops;
      const int64_t acquired = vmstat_value(rep.vmstat, "nr_foll_pin_acquired");
      EXPECT_EQ(acquired, (8 << 20) / 4096);
      EXPECT_EQ(vmstat_value(rep.vmstat, "nr_foll_pin_released"), acquired);
    }
  }
}

// In a child process: give up CAP_IPC_LOCK (if we have it) and lower RLIMIT_MEMLOCK to
// 64 KiB, then ask the host to pin 16 MiB. Returns the child's report: "ok", or the error.
std::string host_pin_under_memlock_limit() {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (syscall(SYS_capget, &hdr, data) == 0) {
      const unsigned w = CAP_IPC_LOCK / 32, bit = 1u << (CAP_IPC_LOCK % 32);
      data[w].effective &= ~bit;
      data[w].permitted &= ~bit;
      data[w].inheritable &= ~bit;
      syscall(SYS_capset, &hdr, data);
    }
    rlimit rl{64 << 10, 64 << 10};
    setrlimit(RLIMIT_MEMLOCK, &rl);
    HostPinResult r = host_longterm_pin(16ull << 20, false, 1);
    const std::string out = r.ok ? "ok" : r.error;
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return out;
}

TEST(GupTestTool, HostRefusalSaysWhyAndWhatToDo) {
  const std::string out = host_pin_under_memlock_limit();
  if (out.find("io_uring_queue_init") != std::string::npos && out.find("ENOMEM") == std::string::npos)
    GTEST_SKIP() << "no io_uring on this host: " << out;
  if (out == "ok") GTEST_SKIP() << "this host pins without charging RLIMIT_MEMLOCK";
  EXPECT_NE(out.find("ENOMEM"), std::string::npos) << out;
  EXPECT_NE(out.find("RLIMIT_MEMLOCK (soft 64 KiB, hard 64 KiB)"), std::string::npos) << out;
  EXPECT_NE(out.find("ulimit -l"), std::string::npos) << out;
}


// gup_test -H: the buffer is MAP_HUGETLB, from a pool the machine reserves at boot; the
// fast path takes every PMD (2 MiB) or PUD (1 GiB) leaf without falling back, under
// every design but fake_vma (which has no fast path), and releases every pin.
TEST(GupTestTool, HugetlbRunsPinPmdAndPudLeavesUnderEveryDesign) {
  for (unsigned shift : {21u, 30u}) {
    for (PinDesign d : kAllPinDesigns) {
      GupTestOptions opt;
      opt.cmd = GupTestCmd::PIN_FAST_BENCHMARK;
      opt.hugetlb = true;
      opt.hugetlb_shift = shift;
      opt.size_mb = 64;  // a 1 GiB page still maps whole (mmap rounds up); GUP covers 64 MiB of it
      opt.nr_pages_per_call = 512;
      opt.fault_in_gup = true;  // -z: no 4 KiB touch loop over a 1 GiB page; GUP faults
      opt.repeats = 2;          // the first pass in (slow path), the second finds the leaves
      opt.design = d;
      const MachineConfig cfg = gup_test_machine_config(opt);
      EXPECT_EQ(shift == 30 ? cfg.hugetlb_1g_pages : cfg.hugetlb_2m_pages, shift == 30 ? 1u : 32u);
      GupTestReport rep = run_gup_test(opt);
      ASSERT_TRUE(rep.error.empty()) << rep.error;
      const auto pages = static_cast<int64_t>((opt.size_mb << 20) / 4096);
      ASSERT_EQ(rep.runs.size(), 2u);
      for (const auto& r : rep.runs) {
        EXPECT_EQ(r.status, 0) << to_string(d);
        EXPECT_EQ(static_cast<int64_t>(r.pages), pages);
        EXPECT_EQ(r.not_pinned, 0u);
      }
      EXPECT_TRUE(rep.oops.empty()) << rep.oops;
      const int64_t acquired = vmstat_value(rep.vmstat, "nr_foll_pin_acquired");
      EXPECT_EQ(acquired, 2 * pages);
      EXPECT_EQ(vmstat_value(rep.vmstat, "nr_foll_pin_released"), acquired);
      const int64_t fast = vmstat_value(rep.vmstat, "gup_fast_pages");
      if (d == PinDesign::fake_vma) EXPECT_EQ(fast, 0);
      else EXPECT_GE(fast, pages) << to_string(d) << ": the second pass is all fast path";
    }
  }
}

// -m is what GUP covers; mmap rounds the mapping up to the huge page size (the kernel's
// ksys_mmap_pgoff()), so -m 3 -H pins 768 pages of a 4 MiB mapping.
TEST(GupTestTool, HugetlbSizeNeedNotBeAMultipleOfTheHugePage) {
  GupTestOptions opt;
  opt.cmd = GupTestCmd::PIN_BASIC_TEST;
  opt.hugetlb = true;
  opt.size_mb = 3;
  opt.nr_pages_per_call = 100;
  EXPECT_EQ(gup_test_machine_config(opt).hugetlb_2m_pages, 2u);
  GupTestReport rep = run_gup_test(opt);
  ASSERT_TRUE(rep.error.empty()) << rep.error;
  ASSERT_EQ(rep.runs.size(), 1u);
  EXPECT_EQ(rep.runs[0].status, 0);
  EXPECT_EQ(rep.runs[0].pages, 768u);
}

TEST(GupTestTool, AHugetlbPoolTheRamCannotHoldIsRefusedWithTheOptionToRaise) {
  GupTestOptions opt;
  opt.cmd = GupTestCmd::PIN_FAST_BENCHMARK;
  opt.hugetlb = true;
  opt.hugetlb_shift = 30;
  opt.size_mb = 1024;
  opt.ram_bytes = 1ull << 30;
  GupTestReport rep = run_gup_test(opt);
  EXPECT_TRUE(rep.runs.empty());
  EXPECT_NE(rep.error.find("needs RAM of at least 2048 MiB"), std::string::npos) << rep.error;
  EXPECT_NE(rep.error.find("--ram"), std::string::npos) << rep.error;
}

}  // namespace
}  // namespace guplab::tools
