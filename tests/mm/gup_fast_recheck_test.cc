// gup_fast_recheck_test.cc - seeded sim explorations of GUP-fast's lockless walk against
// munmap and MADV_DONTNEED whose freed frames are at once reused by a new mapping: the
// race that GUP-fast's re-check of the pte after the speculative grab (seed 000's lockless
// walk, src/mm/gup_fast.cc) exists for. The walk reads a pte, the zapper frees its frame
// and a fresh mapping takes it, and only then does the walk grab the folio: without the
// re-check the pinner holds a pin on a frame that now backs someone else's memory. The
// test fails if any page the pinner was handed is mapped by the fresh mapping (a page
// pinned before the zap stays pinned and cannot be reused). A failure names the design and
// the seed; the run replays from them (the sim backend is deterministic).
// This is the mutation check of issue 15: delete the pte re-check and this test fails.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mm/gup.h"
#include "mm/mm_fixture.h"
#include "mm/pgalloc.h"
#include "sim/options.h"

namespace guplab {
namespace {

constexpr unsigned long kPages = 2;        // the pinner's range, at the start of the mapping
constexpr unsigned long kFreshOffset = 16;  // the zapper's fresh pages, further on in it
constexpr unsigned long kMapPages = 32;
constexpr uint64_t kSeeds = 500;

/** mapped_pages() - the pages @mm maps in [@addr, @addr + kPages pages). */
std::vector<page*> mapped_pages(Machine* m, mm_struct* mm, unsigned long addr) {
  std::vector<page*> out;
  SpinGuard g(&mm->page_table_lock);
  for (unsigned long i = 0; i < kPages; i++) {
    pgtable_slot* s = pte_walk(mm, addr + i * PAGE_SIZE);
    if (!s) continue;
    const pte_t pte = ptep_get(s);
    if (pte_present(pte)) out.push_back(m->mem().pfn_to_page(pte_pfn(pte)));
  }
  return out;
}

/**
 * race_once() - one seeded run: a pinner pins kPages with pin_user_pages_fast() while a
 * zapper unmaps (or MADV_DONTNEEDs) them and maps and touches a fresh range. Returns "" or
 * what went wrong.
 */
enum class Zap : uint8_t { munmap, dontneed };

std::string race_once(PinDesign d, uint64_t seed, Zap zap, SimStrategy strategy) {
  MachineConfig c = test::small_config(32ull << 20);
  c.pin_design = d;
  c.backend = Backend::sim;
  c.seed = seed;
  Machine m(c);
  SimOptions so = m.sim_options();
  so.strategy = strategy;
  so.pct_steps = 150;
  m.set_sim_options(so);
  std::string problem;
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    const long a = vm_mmap(mm, 0, kMapPages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    if (a <= 0) {
      problem = "mmap failed";
      return;
    }
    const auto addr = static_cast<unsigned long>(a);
    for (unsigned long i = 0; i < kPages; i++) {
      const uint64_t v = i + 1;
      uaccess_write(mm, addr + i * PAGE_SIZE, &v, sizeof(v));
    }
    std::vector<page*> pinned(kPages);
    int got = 0;
    unsigned long fresh = 0;
    task_struct* pinner = m.spawn("pinner", [&] {
      got = pin_user_pages_fast(addr, static_cast<int>(kPages), FOLL_WRITE, pinned.data());
    }, mm);
    task_struct* zapper = m.spawn("zapper", [&] {
      if (zap == Zap::dontneed) do_madvise(mm, addr, kPages * PAGE_SIZE, MADV_DONTNEED);
      else vm_munmap(mm, addr, kPages * PAGE_SIZE);
      // Fresh pages of the same vma, in the same page table (so the freed frames go to data
      // pages, not to a new table): the frames just freed are the first to be reused.
      fresh = addr + kFreshOffset * PAGE_SIZE;
      for (unsigned long i = 0; i < kPages; i++) {
        const uint64_t v = 0xf00d;
        uaccess_write(mm, fresh + i * PAGE_SIZE, &v, sizeof(v));
      }
    }, mm);
    task_join(pinner);
    task_join(zapper);
    if (fresh) {
      const std::vector<page*> theirs = mapped_pages(&m, mm, fresh);
      for (int k = 0; k < got && problem.empty(); k++)
        for (page* q : theirs)
          if (q == pinned[static_cast<size_t>(k)])
            problem = "the pinner holds a pin on a frame the fresh mapping now uses (page " + std::to_string(k) + ")";
    }
    if (got > 0) unpin_user_pages(pinned.data(), static_cast<unsigned long>(got));
    mmput(mm);
  });
  if (problem.empty() && m.sim_result() && !m.sim_result()->ok()) problem = m.sim_result()->format();
  if (problem.empty() && m.nr_oops()) problem = m.oopses()[0].format();
  if (problem.empty() && m.vmstat().read(NR_FOLL_PIN_ACQUIRED) != m.vmstat().read(NR_FOLL_PIN_RELEASED))
    problem = "pins do not balance";
  return problem;
}

class GupFastRecheck : public ::testing::TestWithParam<PinDesign> {};

void explore(PinDesign d, Zap zap) {
  uint64_t failures = 0;
  for (uint64_t seed = 1; seed <= kSeeds; seed++) {
    for (SimStrategy st : {SimStrategy::random, SimStrategy::pct}) {
      const std::string p = race_once(d, seed, zap, st);
      if (!p.empty() && failures++ < 3)
        ADD_FAILURE() << to_string(d) << (zap == Zap::dontneed ? " MADV_DONTNEED" : " munmap")
                      << " seed " << seed
                      << (st == SimStrategy::pct ? " (pct)" : " (random)") << ": " << p;
    }
  }
  EXPECT_EQ(failures, 0u);
}

TEST_P(GupFastRecheck, MunmapThenReuseNeverLeavesAPinOnAReusedFrame) { explore(GetParam(), Zap::munmap); }
TEST_P(GupFastRecheck, DontneedThenReuseNeverLeavesAPinOnAReusedFrame) { explore(GetParam(), Zap::dontneed); }

INSTANTIATE_TEST_SUITE_P(Designs, GupFastRecheck, ::testing::Values(PinDesign::bias, PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
