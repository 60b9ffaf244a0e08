// gup_race_test.cc - GUP-fast and the slow path racing munmap, MADV_DONTNEED, mprotect
// and fork on one mm, for every pin design: no use-after-free (run it under ASan), no
// reference or pin leaked, no pin left on a freed page (that would oops), and no pinned
// page ever reported unpinned.
//
// Two forms of the same race (gup_race()):
//  - GupRaceSim: a seeded exploration on the sim backend, a bounded number of seeds; the
//    seed fixes the tasks' data and every interleaving, and a failure prints the command
//    that replays exactly that schedule (GUPLAB_SIM_SEED=<seed>, tests/sim_explore.h).
//  - GupRaceTest: a short native smoke run on host threads, bounded by iterations. Its
//    data seed (GUPLAB_STRESS_SEED) fixes what each task does, NOT how the host
//    interleaves them: it does not replay a schedule. GUPLAB_STRESS_ITERS lengthens it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mm/gup.h"
#include "mm/mm_fixture.h"
#include "sim_explore.h"
#include "sim_run.h"

namespace guplab {
namespace {

// A device's store into a pinned frame: a relaxed atomic word store, as the model's
// devices make them; the model's CPU copies of frames (COW, fork) load them the same way
// (copy_frame()), so the race is a defined one.
void device_store(page* p, char v) { __atomic_store_n(static_cast<char*>(page_address(p)) + 8, v, __ATOMIC_RELAXED); }

/** How big one run of the race is. */
struct RaceSize {
  unsigned long pages;     // the racing range (a 2 MiB-aligned VM_HUGEPAGE start)
  unsigned long max_pin;   // pages per GUP call, at most
  unsigned long max_zap;   // pages per mutation, at most
  int pinner_calls;        // GUP calls of each pinner
  int mutator_ops;         // operations of the mutator
};

struct RaceCounts {
  std::atomic<long> pinned_pages{0}, false_negatives{0}, faults{0};
};

/**
 * gup_race() - two pinners (pin_user_pages_fast() 80%, get_user_pages_fast() 20%) and a
 * mutator (munmap+mmap, MADV_DONTNEED, mprotect, fork with a child's write, plain writes)
 * on the range at @base of @mm, each task drawing from its own stream seeded from @seed.
 * REQUIRES: runs as a task of @m; [@base, @base + @sz.pages pages) mapped private anon.
 */
void gup_race(Machine* m, mm_struct* mm, unsigned long base, bool tracking, uint64_t seed, const RaceSize& sz,
              RaceCounts* out) {
  auto pinner = [&](uint64_t s) {
    Random rng(s);
    std::vector<page*> pages(sz.max_pin);
    for (int call = 0; call < sz.pinner_calls; call++) {
      const unsigned long first = rng.uniform(sz.pages - sz.max_pin);
      const int nr = 1 + static_cast<int>(rng.uniform(sz.max_pin));
      const bool write = rng.chance(0.7);
      const unsigned long addr = base + first * PAGE_SIZE;
      long got;
      const bool pin = rng.chance(0.8);
      if (pin)
        got = pin_user_pages_fast(addr, nr, write ? FOLL_WRITE : FOLL_NONE, pages.data());
      else
        got = get_user_pages_fast(addr, nr, write ? FOLL_WRITE : FOLL_NONE, pages.data());
      if (got <= 0) {
        out->faults++;
        continue;
      }
      for (long i = 0; i < got; i++) {
        // The frame must still be ours to use: write into it as a device would.
        // (Several tasks may hold the same page: a device's store, not a C++ one.)
        if (write && !PageZero(page_folio(pages[i]))) device_store(pages[i], 1);
        // The zero page is never pin-accounted (upstream's rule: DMA can only read it).
        if (pin && tracking && !PageZero(page_folio(pages[i])) && !page_maybe_dma_pinned(pages[i]))
          out->false_negatives++;
      }
      if (rng.chance(0.3)) cond_resched();
      if (pin) {
        out->pinned_pages += got;
        unpin_user_pages_dirty_lock(pages.data(), static_cast<unsigned long>(got), write);
      } else {
        for (long i = 0; i < got; i++) put_page(pages[i]);
      }
    }
  };
  auto mutator = [&](uint64_t s) {
    Random rng(s);
    for (int op = 0; op < sz.mutator_ops; op++) {
      const unsigned long first = rng.uniform(sz.pages - sz.max_zap);
      const unsigned long len = (1 + rng.uniform(sz.max_zap)) * PAGE_SIZE;
      const unsigned long addr = base + first * PAGE_SIZE;
      switch (rng.uniform(5)) {
        case 0:
          vm_munmap(mm, addr, len);
          vm_mmap(mm, addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, nullptr, 0);
          break;
        case 1: do_madvise(mm, addr, len, MADV_DONTNEED); break;
        case 2:
          do_mprotect(mm, addr, len, PROT_READ);
          do_mprotect(mm, addr, len, PROT_READ | PROT_WRITE);
          break;
        case 3: {
          mm_struct* child = dup_mm(mm);
          if (child) {
            uint64_t v = 3;
            uaccess_write(child, addr, &v, sizeof(v));
            mmput(child);
          }
          break;
        }
        default: {
          uint64_t v = rng.next_u64();
          uaccess_write(mm, addr, &v, sizeof(v));
        }
      }
    }
  };
  std::vector<task_struct*> ts;
  ts.push_back(m->spawn("pinner0", [&] { pinner(seed + 1); }, mm));
  ts.push_back(m->spawn("pinner1", [&] { pinner(seed + 2); }, mm));
  ts.push_back(m->spawn("mutator", [&] { mutator(seed + 3); }, mm));
  for (auto* t : ts) task_join(t);
}

/** map_race_range() - a mapping with a 2 MiB-aligned VM_HUGEPAGE range of @pages at its start. */
unsigned long map_race_range(mm_struct* mm, unsigned long pages) {
  const long raw = vm_mmap(mm, 0, pages * PAGE_SIZE + PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           nullptr, 0);
  EXPECT_GT(raw, 0);
  if (raw <= 0) return 0;
  const unsigned long base = (static_cast<unsigned long>(raw) + PMD_SIZE - 1) & PMD_MASK;
  EXPECT_EQ(do_madvise(mm, base, PMD_SIZE, MADV_HUGEPAGE), 0);
  return base;
}

std::string design_name(const ::testing::TestParamInfo<PinDesign>& info) { return to_string(info.param); }

// ---- the seeded exploration (sim backend) --------------------------------------------------

class GupRaceSim : public ::testing::TestWithParam<PinDesign> {};

constexpr uint64_t kSimSeeds = 64;
constexpr RaceSize kSimSize{512, 16, 32, 16, 16};  // one THP-eligible 2 MiB range

TEST_P(GupRaceSim, PinsSurviveUnmapDontneedForkAndMprotectUnderEverySeed) {
  const PinDesign d = GetParam();
  long pinned_total = 0;
  testing::explore_seeds(testing::sanitizer_scaled(kSimSeeds), [&](uint64_t seed) {
    MachineConfig c = test::small_config(32ull << 20);
    c.pin_design = d;
    const SimOptions so = testing::sim_options_for(seed, 2000);
    std::string problem;
    const std::string run = testing::sim_run(c, seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      const unsigned long base = map_race_range(mm, kSimSize.pages);
      RaceCounts n;
      if (base) gup_race(&m, mm, base, d != PinDesign::get, seed * 4, kSimSize, &n);
      mmput(mm);
      rcu_barrier();
      pinned_total += n.pinned_pages.load();
      if (n.false_negatives.load())
        problem = std::to_string(n.false_negatives.load()) + " pinned pages reported unpinned";
      else if (m.vmstat().read(NR_FOLL_PIN_ACQUIRED) != m.vmstat().read(NR_FOLL_PIN_RELEASED))
        problem = "pins acquired != released";
    }, &so);
    return run.empty() ? problem : run;
  });
  EXPECT_GT(pinned_total, 0) << "the exploration never pinned a page: it tested nothing";
}

INSTANTIATE_TEST_SUITE_P(Designs, GupRaceSim,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         design_name);

// ---- the native smoke run (host threads) ---------------------------------------------------

class GupRaceTest : public test::MmTest, public ::testing::WithParamInterface<PinDesign> {
 protected:
  MachineConfig config() override {
    MachineConfig c = test::small_config(128ull << 20);
    c.pin_design = GetParam();
    return c;
  }
};

TEST_P(GupRaceTest, PinsSurviveUnmapDontneedForkAndMprotect) {
  const uint64_t seed =
      testing::sim_env_u64("GUPLAB_STRESS_SEED", 0x5eed0000u + static_cast<unsigned>(GetParam()));
  const int iters = static_cast<int>(testing::sim_env_u64("GUPLAB_STRESS_ITERS", 300));
  std::printf("gup race (native smoke): design %s data seed GUPLAB_STRESS_SEED=%#llx, %d iterations; "
              "the host schedules the threads, so the seed does not replay an interleaving "
              "(GupRaceSim does)\n",
              to_string(GetParam()), static_cast<unsigned long long>(seed), iters);
  const RaceSize size{1024, 64, 32, iters, iters};  // includes two THP-eligible 2 MiB ranges
  const unsigned long base = map_race_range(mm_, size.pages);
  ASSERT_NE(base, 0ul);
  RaceCounts n;
  gup_race(m_.get(), mm_, base, GetParam() != PinDesign::get, seed, size, &n);
  std::printf("gup race: %ld pages pinned, %ld failed calls\n", n.pinned_pages.load(), n.faults.load());
  EXPECT_GT(n.pinned_pages.load(), 0);
  EXPECT_EQ(n.false_negatives.load(), 0) << "a pinned page was reported unpinned";
  EXPECT_EQ(vs(NR_FOLL_PIN_ACQUIRED), vs(NR_FOLL_PIN_RELEASED));
  // The fixture then checks: no oops (a pin left on a freed page would BUG in the
  // allocator), every page back to the free lists once the mm is gone.
}

INSTANTIATE_TEST_SUITE_P(Designs, GupRaceTest,
                         ::testing::Values(PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                           PinDesign::folio_pincount),
                         design_name);

}  // namespace
}  // namespace guplab
