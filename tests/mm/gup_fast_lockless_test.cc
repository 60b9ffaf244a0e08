// gup_fast_lockless_test.cc - sim explorations of GUP-fast's lockless walk
// (src/mm/gup_fast.cc) against fork, against a THP zapped and its block reused, and
// against munmap freeing the page tables the walk is reading: the races that the walk's
// mm->write_protect_seq check, its re-check of a huge pmd after the speculative grab, and
// its RCU read-side section (with page tables freed after a grace period) exist for
// (seed 000's lockless walk; upstream's gup_fast_fallback(), gup_fast_pmd_leaf() and
// tlb_remove_table()).
//
// The explorations are preemption-bounded (as CHESS explores): run (i, j) lets the pinner
// take i scheduling decisions, then the other task j (or all it needs), then the pinner
// again, each run a replayed choice vector on the sim backend, so every run is exact and
// a failure names the Preemption{i, j, rcu} that replays it. The pinner's windows are a few scheduling
// points wide and sit after a long stretch of the other side; a random walk almost never
// stops the pinner there, an enumeration does by construction.
//
// This is the mutation check of issue 15 (scripts/mutants/): gup_fast_fork_seq,
// gup_fast_pmd_recheck, gup_fast_rcu_walk and pgtable_free_now each delete one of these
// protections, and a test here then fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "base/rcu.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mm_fixture.h"
#include "mm/pgalloc.h"
#include "sim/options.h"

namespace guplab {
namespace {

// Task ordinals of a run (SimChoice): the first task 0, then the pinner 1 and the other
// task 2 (each body spawns them in that order). The rcu kthread, started by the first
// call_rcu() of the race, comes after them. The setup before the spawns has one task
// that can run, so it makes no decisions: the vector starts at the race.
constexpr SimChoice kPinner = 1;
constexpr SimChoice kOther = 2;
constexpr SimChoice kRcuKthread = 3;
// More choices than any task of these runs needs to finish.
constexpr size_t kRunToEnd = 20000;

/** A run of the exploration: the pinner's first @i choices, then the other's @j. */
struct Preemption {
  size_t i = 0;
  size_t j = kRunToEnd;
  size_t rcu = 0;  // then the rcu kthread's this many (it runs what munmap queued)
};

/**
 * choices() - the choice vector of @p: pinner i times, the other j times, the rcu kthread
 * rcu times, then the pinner to its end. A choice whose task cannot run falls to the
 * lowest runnable ordinal (the replay strategy's rule): e.g. the first task, which
 * spawns the other after the pinner.
 */
std::vector<SimChoice> choices(const Preemption& p) {
  std::vector<SimChoice> v(p.i, kPinner);
  v.insert(v.end(), p.j, kOther);
  v.insert(v.end(), p.rcu, kRcuKthread);
  v.insert(v.end(), kRunToEnd, kPinner);
  return v;
}

/**
 * run_once() - boot a sim machine with design @d, run @body on it under the choices of
 * @p, and return "" or what went wrong: @body's own finding, the sim outcome, an oops,
 * or pins that do not balance. *@fell_back is set if GUP-fast fell back to the slow path.
 */
std::string run_once(MachineConfig c, PinDesign d, const Preemption& p, const std::function<std::string(Machine&)>& body,
                     bool* fell_back, size_t* other_ran = nullptr) {
  c.pin_design = d;
  c.backend = Backend::sim;
  c.seed = 1;
  Machine m(c);
  SimOptions so = m.sim_options();
  so.strategy = SimStrategy::replay;
  so.replay = choices(p);
  m.set_sim_options(so);
  std::string problem;
  m.run([&] {
    problem = body(m);
  });
  if (problem.empty() && m.sim_result() && !m.sim_result()->ok()) problem = m.sim_result()->format();
  if (problem.empty() && m.nr_oops()) problem = m.oopses()[0].format();
  if (problem.empty() && m.vmstat().read(NR_FOLL_PIN_ACQUIRED) != m.vmstat().read(NR_FOLL_PIN_RELEASED))
    problem = "pins do not balance";
  *fell_back = m.vmstat().read(GUP_FAST_FALLBACK) != 0;
  if (other_ran && m.sim_result()) {  // how many choices after the pinner's i, up to the other's last
    const std::vector<SimChoice>& ch = m.sim_result()->choices;
    const auto last = std::find(ch.rbegin(), ch.rend(), kOther);
    const size_t end = last == ch.rend() ? 0 : static_cast<size_t>(ch.rend() - last);
    *other_ran = end > p.i ? end - p.i : 0;
  }
  return problem;
}

/**
 * explore() - run_once() for every i < @max_i and j < @max_j (j = to the end if @max_j
 * is 0). With @then_rcu, each run is followed by one that, once the other task is done,
 * gives the rcu kthread its turn before the pinner's (the replay rule would otherwise
 * resume the pinner, the lower ordinal). No run may fail, and in some run GUP-fast must
 * have backed off to the slow path (else the exploration never reached the race and
 * proves nothing).
 */
void explore(const MachineConfig& c, PinDesign d, const char* what, size_t max_i, size_t max_j,
             const std::function<std::string(Machine&)>& body, bool then_rcu = false) {
  uint64_t failures = 0, backed_off = 0;
  for (size_t i = 0; i < max_i; i++) {
    for (size_t j = max_j ? 0 : kRunToEnd; j < (max_j ? max_j : kRunToEnd + 1); j++) {
      std::vector<Preemption> runs{{i, j, 0}};
      for (size_t r = 0; r < runs.size(); r++) {
        const Preemption pr = runs[r];
        bool fell_back = false;
        size_t other_ran = 0;
        const std::string p = run_once(c, d, pr, body, &fell_back, &other_ran);
        backed_off += fell_back;
        if (!p.empty() && failures++ < 3)
          ADD_FAILURE() << to_string(d) << " " << what << ": run i=" << pr.i << " j=" << pr.j << " rcu=" << pr.rcu
                        << " (replay: choices(Preemption{" << pr.i << ", " << pr.j << ", " << pr.rcu << "})): " << p;
        if (then_rcu && r == 0) runs.push_back(Preemption{i, other_ran, kRunToEnd / 4});
      }
    }
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(backed_off, 0u) << "no run reached a window where GUP-fast had to back off";
}

/** mapped_page() - the page @mm maps at @addr with a present pte or huge pmd, or nullptr. */
page* mapped_page(Machine* m, mm_struct* mm, unsigned long addr) {
  SpinGuard g(&mm->page_table_lock);
  pgtable_slot* pmdp = pmd_walk(mm, addr);
  if (!pmdp) return nullptr;
  const pmd_t pmd = pmdp_get(pmdp);
  if (!pmd_present(pmd)) return nullptr;
  if (pmd_leaf(pmd)) return m->mem().pfn_to_page(pmd_pfn(pmd)) + ((addr & ~PMD_MASK) >> PAGE_SHIFT);
  pgtable_slot* s = pte_walk(mm, addr);
  if (!s) return nullptr;
  const pte_t pte = ptep_get(s);
  return pte_present(pte) ? m->mem().pfn_to_page(pte_pfn(pte)) : nullptr;
}

// ---- GUP-fast against fork: mm->write_protect_seq --------------------------------------

/**
 * fork_race() - a pinner pins a written anon page with pin_user_pages_fast(FOLL_WRITE)
 * while a forker forks the mm. Fork shares a page it finds unpinned with the child and
 * write-protects it in the parent; a pin that lands between fork's "is it pinned?" and
 * its write-protect would leave the pinned page shared, and the parent's next write would
 * copy it away from the pin. The walk's write_protect_seq check backs such a pin off to
 * the slow path (which unshares first). Afterwards the parent writes the page: the pinned
 * page must still be the one the parent maps.
 */
std::string fork_race(Machine& m) {
  mm_struct* mm = mm_alloc(&m);
  const long a = vm_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  if (a <= 0) return "mmap failed";
  const auto addr = static_cast<unsigned long>(a);
  const uint64_t one = 1;
  uaccess_write(mm, addr, &one, sizeof(one));
  page* pinned = nullptr;
  int got = 0;
  mm_struct* child = nullptr;
  task_struct* pinner = m.spawn("pinner", [&] { got = pin_user_pages_fast(addr, 1, FOLL_WRITE, &pinned); }, mm);
  task_struct* forker = m.spawn("forker", [&] { child = dup_mm(mm); }, mm);
  task_join(pinner);
  task_join(forker);
  std::string problem;
  if (got == 1) {
    const uint64_t v = 0xabcd;
    uaccess_write(mm, addr, &v, sizeof(v));  // COWs if the page is still shared with the child
    if (mapped_page(&m, mm, addr) != pinned)
      problem = "the parent's write went to another page than the one pinned: the pin landed on a page fork shared";
    unpin_user_pages(&pinned, 1);
  }
  if (child) mmput(child);
  mmput(mm);
  return problem;
}

class GupFastFork : public ::testing::TestWithParam<PinDesign> {};

TEST_P(GupFastFork, APinNeverLandsOnAPageForkShared) {
  // The pinner reads write_protect_seq within its first few choices; fork reaches the
  // copy of the page's pte within its first 200.
  explore(test::small_config(32ull << 20), GetParam(), "fork", 6, 200, fork_race);
}

INSTANTIATE_TEST_SUITE_P(Designs, GupFastFork, ::testing::Values(PinDesign::bias, PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ---- GUP-fast on a THP: the huge pmd re-check after the speculative grab ---------------

/**
 * thp_race() - a pinner pins the first page of a THP with pin_user_pages_fast() while a
 * zapper MADV_DONTNEEDs the THP and allocates an order-9 folio for itself (the block just
 * freed is the first to be reused). If the walk reads the huge pmd, the zapper frees and
 * reuses the folio, and only then the walk grabs it, the grab succeeds on a folio that
 * now belongs to someone else: only the re-read of the pmd tells. The pinner must never
 * hold a pin on a page of the zapper's folio.
 */
std::string thp_race(Machine& m) {
  mm_struct* mm = mm_alloc(&m);
  const long a = vm_mmap(mm, 0, PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  if (a <= 0 || (static_cast<unsigned long>(a) & ~PMD_MASK)) return "mmap failed or not 2 MiB aligned";
  const auto addr = static_cast<unsigned long>(a);
  const uint64_t one = 1;
  uaccess_write(mm, addr, &one, sizeof(one));
  {
    SpinGuard g(&mm->page_table_lock);
    pgtable_slot* pmdp = pmd_walk(mm, addr);
    if (!pmdp || !pmd_leaf(pmdp_get(pmdp))) return "the first fault did not map a THP";
  }
  page* pinned = nullptr;
  int got = 0;
  folio* theirs = nullptr;
  task_struct* pinner = m.spawn("pinner", [&] { got = pin_user_pages_fast(addr, 1, FOLL_WRITE, &pinned); }, mm);
  task_struct* zapper = m.spawn("zapper", [&] {
    do_madvise(mm, addr, PMD_SIZE, MADV_DONTNEED);
    theirs = folio_alloc(gfp_t::GFP_HIGHUSER_MOVABLE, HPAGE_PMD_ORDER);
  }, mm);
  task_join(pinner);
  task_join(zapper);
  std::string problem;
  if (got == 1 && theirs) {
    page* head = folio_page(theirs, 0);
    if (pinned >= head && pinned < head + HPAGE_PMD_NR)
      problem = "the pinner holds a pin on a page of another owner's folio (the THP was freed and its block reused)";
  }
  if (got > 0) unpin_user_pages(&pinned, 1);
  if (theirs) folio_put(theirs);
  mmput(mm);
  return problem;
}

class GupFastThp : public ::testing::TestWithParam<PinDesign> {};

TEST_P(GupFastThp, APinNeverLandsOnAReusedHugeFolio) {
  MachineConfig c = test::small_config(32ull << 20);
  c.thp = true;
  c.thp_always = true;
  explore(c, GetParam(), "THP MADV_DONTNEED", 40, 0, thp_race);
}

INSTANTIATE_TEST_SUITE_P(Designs, GupFastThp, ::testing::Values(PinDesign::bias, PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// ---- GUP-fast against page-table freeing: the walk's RCU read-side section -------------

constexpr unsigned long kTablePages = 4;

/**
 * pgtable_free_race() - a pinner pins kTablePages of an mm's only mapping with
 * pin_user_pages_fast() while a zapper munmaps the whole mapping, which empties its pte
 * table (and the tables above it), so free_pgtables() unlinks them and mmu_gather frees
 * them after an RCU grace period. The walk reads a pmd, then the pte table it points to:
 * only its RCU read-side section keeps that table from being freed in between. The walk
 * oopses if it reads a freed table (src/mm/gup_fast.cc: check_table_live()).
 */
std::string pgtable_free_race(Machine& m) {
  mm_struct* mm = mm_alloc(&m);
  const long a = vm_mmap(mm, 0, kTablePages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  if (a <= 0) return "mmap failed";
  const auto addr = static_cast<unsigned long>(a);
  for (unsigned long i = 0; i < kTablePages; i++) {
    const uint64_t v = i + 1;
    uaccess_write(mm, addr + i * PAGE_SIZE, &v, sizeof(v));
  }
  const int64_t tables = m.vmstat().read(NR_PAGETABLE);
  std::vector<page*> pinned(kTablePages);
  int got = 0;
  task_struct* pinner = m.spawn("pinner", [&] {
    got = pin_user_pages_fast(addr, static_cast<int>(kTablePages), FOLL_WRITE, pinned.data());
  }, mm);
  task_struct* zapper = m.spawn("zapper", [&] { vm_munmap(mm, addr, kTablePages * PAGE_SIZE); }, mm);
  task_join(pinner);
  task_join(zapper);
  rcu_barrier();
  std::string problem;
  if (m.vmstat().read(NR_PAGETABLE) >= tables) problem = "munmap freed no page table: the test no longer tests anything";
  if (got > 0) unpin_user_pages(pinned.data(), static_cast<unsigned long>(got));
  mmput(mm);
  return problem;
}

class GupFastPgtableFree : public ::testing::TestWithParam<PinDesign> {};

TEST_P(GupFastPgtableFree, TheWalkNeverReadsAFreedPageTable) {
  explore(test::small_config(32ull << 20), GetParam(), "munmap (tables freed)", 40, 0, pgtable_free_race, true);
}

INSTANTIATE_TEST_SUITE_P(Designs, GupFastPgtableFree, ::testing::Values(PinDesign::bias, PinDesign::folio_pincount),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace guplab
