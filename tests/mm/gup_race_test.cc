// gup_race_test.cc - GUP-fast and the slow path racing munmap, MADV_DONTNEED, mprotect
// and fork on one mm, for every pin design: no use-after-free (run it under ASan), no
// reference or pin leaked, no pin left on a freed page (that would oops), and no pinned
// page ever reported unpinned. Bounded in time; prints its seed
// (GUPLAB_STRESS_SEED / GUPLAB_STRESS_SECONDS override).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "base/clock.h"
#include "mm/gup.h"
#include "mm/mm_fixture.h"

namespace guplab {
namespace {

class GupRaceTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config(128ull << 20);
    c.pin_design = GetParam();
    return c;
  }
};

uint64_t env_u64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 0) : dflt;
}

TEST_P(GupRaceTest, PinsSurviveUnmapDontneedForkAndMprotect) {
  const uint64_t seed = env_u64("GUPLAB_STRESS_SEED", 0x5eed0000u + static_cast<unsigned>(GetParam()));
  const uint64_t ms = env_u64("GUPLAB_STRESS_SECONDS", 1) * 1000;
  std::printf("gup race: design %s seed %#llx for %llu ms\n", to_string(GetParam()),
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(ms));
  constexpr unsigned long kPages = 1024;  // includes two THP-eligible 2 MiB ranges
  const unsigned long raw = map(kPages * PAGE_SIZE + PMD_SIZE);
  const unsigned long base = (raw + PMD_SIZE - 1) & PMD_MASK;
  ASSERT_EQ(do_madvise(mm_, base, PMD_SIZE, MADV_HUGEPAGE), 0);
  const bool tracking = GetParam() != PinDesign::get;
  std::atomic<bool> stop{false};
  std::atomic<long> pinned_pages{0}, false_negatives{0}, faults{0};
  const uint64_t deadline = ktime_get_ns() + ms * NSEC_PER_MSEC;

  auto pinner = [&](uint64_t s) {
    Random rng(s);
    std::vector<page*> pages(64);
    while (!stop.load(std::memory_order_relaxed)) {
      const unsigned long first = rng.uniform(kPages - 64);
      const int nr = 1 + static_cast<int>(rng.uniform(64));
      const bool write = rng.chance(0.7);
      const unsigned long addr = base + first * PAGE_SIZE;
      long got;
      const bool pin = rng.chance(0.8);
      if (pin)
        got = pin_user_pages_fast(addr, nr, write ? FOLL_WRITE : FOLL_NONE, pages.data());
      else
        got = get_user_pages_fast(addr, nr, write ? FOLL_WRITE : FOLL_NONE, pages.data());
      if (got <= 0) {
        faults++;
        continue;
      }
      for (long i = 0; i < got; i++) {
        // The frame must still be ours to use: write into it as a device would.
        // (A relaxed atomic store: two pinners may write the same page at once, as two
        // devices would; the model's devices write frames that way, block/ramdisk.cc.)
        if (write && !PageZero(page_folio(pages[i])))
          __atomic_store_n(static_cast<char*>(page_address(pages[i])) + 8, char{1}, __ATOMIC_RELAXED);
        // The zero page is never pin-accounted (upstream's rule: DMA can only read it).
        if (pin && tracking && !PageZero(page_folio(pages[i])) && !page_maybe_dma_pinned(pages[i])) false_negatives++;
      }
      if (rng.chance(0.3)) cond_resched();
      if (pin) {
        pinned_pages += got;
        unpin_user_pages_dirty_lock(pages.data(), static_cast<unsigned long>(got), write);
      } else {
        for (long i = 0; i < got; i++) put_page(pages[i]);
      }
    }
  };
  auto mutator = [&](uint64_t s) {
    Random rng(s);
    while (ktime_get_ns() < deadline) {
      const unsigned long first = rng.uniform(kPages - 32);
      const unsigned long len = (1 + rng.uniform(32)) * PAGE_SIZE;
      const unsigned long addr = base + first * PAGE_SIZE;
      switch (rng.uniform(5)) {
        case 0:
          vm_munmap(mm_, addr, len);
          vm_mmap(mm_, addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, nullptr, 0);
          break;
        case 1: do_madvise(mm_, addr, len, MADV_DONTNEED); break;
        case 2:
          do_mprotect(mm_, addr, len, PROT_READ);
          do_mprotect(mm_, addr, len, PROT_READ | PROT_WRITE);
          break;
        case 3: {
          mm_struct* child = dup_mm(mm_);
          if (child) {
            uint64_t v = 3;
            uaccess_write(child, addr, &v, sizeof(v));
            mmput(child);
          }
          break;
        }
        default: {
          uint64_t v = rng.next_u64();
          uaccess_write(mm_, addr, &v, sizeof(v));
        }
      }
    }
    stop = true;
  };
  std::vector<task_struct*> ts;
  ts.push_back(m_->spawn("pinner0", [&] { pinner(seed + 1); }, mm_));
  ts.push_back(m_->spawn("pinner1", [&] { pinner(seed + 2); }, mm_));
  ts.push_back(m_->spawn("mutator", [&] { mutator(seed + 3); }, mm_));
  for (auto* t : ts) task_join(t);
  std::printf("gup race: %ld pages pinned, %ld failed calls\n", pinned_pages.load(), faults.load());
  EXPECT_GT(pinned_pages.load(), 0);
  EXPECT_EQ(false_negatives.load(), 0) << "a pinned page was reported unpinned";
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), vs(NR_FOLL_PIN_RELEASED));
  // The fixture then checks: no oops (a pin left on a freed page would BUG in the
  // allocator), every page back to the free lists once the mm is gone.
}

INSTANTIATE_TEST_SUITE_P(Designs, GupRaceTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
