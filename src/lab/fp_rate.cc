// fp_rate.cc - page_maybe_dma_pinned() against workloads whose pin state is known.
#include "lab/fp_rate.h"

#include <fmt/format.h>

#include <vector>

#include "base/bug.h"
#include "base/errno.h"
#include "base/spinlock.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/madvise.h"
#include "mm/mm_struct.h"
#include "mm/mmap.h"
#include "mm/page_ref.h"
#include "mm/pgalloc.h"
#include "mm/pgtable.h"
#include "mm/pin_design.h"
#include "mm/swap.h"
#include "mm/uaccess.h"

namespace guplab {

const char* to_string(FpWorkload w) {
  switch (w) {
    case FpWorkload::refs: return "refs";
    case FpWorkload::fork: return "fork";
    case FpWorkload::thp_refs: return "thp_refs";
    case FpWorkload::mix: return "mix";
  }
  return "?";
}

namespace {

unsigned long map_or_bug(mm_struct* mm, unsigned long len, int flags) {
  const long a = vm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, flags, nullptr, 0);
  BUG_ON_MSG(a < 0, fmt::format("fp-rate: vm_mmap: {}", errname(static_cast<int>(a))));
  return static_cast<unsigned long>(a);
}

void touch(mm_struct* mm, unsigned long a) {
  const char one = 1;
  BUG_ON(uaccess_write(mm, a, &one, 1) != 0);
}

// The page mapped at @a in @mm, looked up in the page tables: no reference taken (the
// mapping keeps it), so that no design's accounting is involved.
page* page_at(mm_struct* mm, unsigned long a) {
  PhysMem& mem = mm->machine->mem();
  SpinGuard g(&mm->page_table_lock);
  if (pgtable_slot* pte = pte_walk(mm, a)) {
    const pte_t e = ptep_get(pte);
    BUG_ON(!pte_present(e));
    return mem.pfn_to_page(pte_pfn(e));
  }
  pgtable_slot* pmd = pmd_walk(mm, a);
  BUG_ON(!pmd || !pmd_leaf(pmdp_get(pmd)));
  return mem.pfn_to_page(pmd_pfn(pmdp_get(pmd))) + ((a & ~PMD_MASK) >> PAGE_SHIFT);
}

// One pin of the page at @a: is it reported? (false negatives.) Released at once.
void check_pinned(mm_struct* mm, unsigned long a, FpRow* row) NO_THREAD_SAFETY_ANALYSIS {
  page* p = nullptr;
  mmap_read_lock(mm);
  const long n = pin_user_pages(a, 1, FOLL_NONE, &p);
  mmap_read_unlock(mm);
  BUG_ON(n != 1);
  row->pinned_samples++;
  if (!page_maybe_dma_pinned(p)) row->false_negatives++;
  unpin_user_page(p);
}

void sample_unpinned(page* p, long n, FpRow* row) {
  row->samples++;
  if (!page_maybe_dma_pinned(p)) return;
  if (row->false_positives++ == 0) {
    row->first_fp_n = n;
    row->first_fp_refcount = page_ref_count(page_folio(p));
  }
}

void run_refs(mm_struct* mm, const FpOptions& opt, FpRow* row) {
  const unsigned long a = map_or_bug(mm, PAGE_SIZE, MAP_SHARED | MAP_ANONYMOUS);
  touch(mm, a);
  page* p = page_at(mm, a);
  row->note = fmt::format("shmem page, base refcount {}", page_ref_count(page_folio(p)));
  for (long n = 1; n <= opt.max_refs; n++) {
    get_page(p);
    sample_unpinned(p, n, row);
  }
  check_pinned(mm, a, row);
  for (long n = 0; n < opt.max_refs; n++) put_page(p);
  vm_munmap(mm, a, PAGE_SIZE);
}

void run_fork(mm_struct* mm, const FpOptions& opt, FpRow* row) {
  const unsigned long a = map_or_bug(mm, PAGE_SIZE, MAP_PRIVATE | MAP_ANONYMOUS);
  touch(mm, a);
  page* p = page_at(mm, a);
  row->note = fmt::format("anon page, base refcount {}", page_ref_count(page_folio(p)));
  std::vector<mm_struct*> children;
  for (long n = 1; n <= opt.max_forks; n++) {
    mm_struct* child = dup_mm(mm);
    BUG_ON_MSG(!child, fmt::format("fp-rate: fork {} failed (-ENOMEM)", n));
    children.push_back(child);
    sample_unpinned(p, n, row);
  }
  // A read-only pin of a shared anonymous page unshares it first (a copy): that copy
  // is the pinned page asked about.
  check_pinned(mm, a, row);
  for (mm_struct* c : children) mmput(c);
  vm_munmap(mm, a, PAGE_SIZE);
}

void run_thp_refs(mm_struct* mm, const FpOptions& opt, FpRow* row) {
  const unsigned long a = map_or_bug(mm, PMD_SIZE, MAP_PRIVATE | MAP_ANONYMOUS);
  BUG_ON(a & ~PMD_MASK);
  BUG_ON(do_madvise(mm, a, PMD_SIZE, MADV_HUGEPAGE) != 0);
  touch(mm, a);
  page* head = page_at(mm, a);
  folio* f = page_folio(head);
  row->note = fmt::format("{} folio of {} pages, base refcount {}", folio_test_large(f) ? "THP" : "small (no THP!)",
                          folio_nr_pages(f), page_ref_count(f));
  const long nr = folio_nr_pages(f);
  for (long n = 1; n <= opt.max_refs; n++) {
    page* sub = head + (n % nr);
    get_page(sub);
    sample_unpinned(sub, n, row);
  }
  check_pinned(mm, a + PAGE_SIZE, row);
  for (long n = 1; n <= opt.max_refs; n++) put_page(head + (n % nr));
  vm_munmap(mm, a, PMD_SIZE);
}

void run_mix(mm_struct* mm, const FpOptions& opt, FpRow* row) NO_THREAD_SAFETY_ANALYSIS {
  const auto nr = static_cast<unsigned long>(opt.mix_pages);
  const unsigned long a = map_or_bug(mm, nr * PAGE_SIZE, MAP_PRIVATE | MAP_ANONYMOUS);
  BUG_ON(do_madvise(mm, a, nr * PAGE_SIZE, MADV_NOHUGEPAGE) != 0);
  std::vector<page*> pages(nr);
  for (unsigned long i = 0; i < nr; i++) {
    touch(mm, a + i * PAGE_SIZE);
    pages[i] = page_at(mm, a + i * PAGE_SIZE);
    for (unsigned long r = 0; r < i * 64; r++) get_page(pages[i]);
  }
  std::vector<page*> pinned;
  mmap_read_lock(mm);
  for (unsigned long i = 1; i < nr; i += 2) {
    page* p = nullptr;
    BUG_ON(pin_user_pages(a + i * PAGE_SIZE, 1, FOLL_WRITE, &p) != 1);
    BUG_ON(p != pages[i]);
    pinned.push_back(p);
  }
  mmap_read_unlock(mm);
  row->note = fmt::format("{} pages, page i has i*64 extra refs, odd pages pinned", nr);
  for (unsigned long i = 0; i < nr; i++) {
    if (i % 2) {
      row->pinned_samples++;
      if (!page_maybe_dma_pinned(pages[i])) row->false_negatives++;
    } else {
      sample_unpinned(pages[i], static_cast<long>(i), row);
    }
  }
  unpin_user_pages(pinned.data(), pinned.size());
  for (unsigned long i = 0; i < nr; i++)
    for (unsigned long r = 0; r < i * 64; r++) put_page(pages[i]);
  vm_munmap(mm, a, nr * PAGE_SIZE);
}

FpRow run_workload(PinDesign d, FpWorkload w, const FpOptions& opt) {
  FpRow row;
  row.design = d;
  row.workload = w;
  MachineConfig cfg;
  cfg.ram_bytes = 512ull << 20;  // fork: page tables of up to 4096 children
  cfg.pin_design = d;
  cfg.thp = true;
  Machine m(cfg);
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    BUG_ON(!mm);
    current()->mm = mm;
    switch (w) {
      case FpWorkload::refs: run_refs(mm, opt, &row); break;
      case FpWorkload::fork: run_fork(mm, opt, &row); break;
      case FpWorkload::thp_refs: run_thp_refs(mm, opt, &row); break;
      case FpWorkload::mix: run_mix(mm, opt, &row); break;
    }
    current()->mm = nullptr;
    mmput(mm);
  });
  BUG_ON_MSG(!m.oopses().empty(), "fp-rate: the workload oopsed: " + m.oopses().front().format());
  return row;
}

}  // namespace

std::vector<FpRow> measure_fp_rate(PinDesign d, const FpOptions& opt) {
  std::vector<FpRow> rows;
  for (FpWorkload w : kAllFpWorkloads) rows.push_back(run_workload(d, w, opt));
  return rows;
}

std::string format_fp_table(const std::vector<FpRow>& rows) {
  std::string s = fmt::format("{:<15} {:<9} {:>7} {:>7} {:>8} {:>11} {:<19} {}\n", "design", "workload", "samples",
                              "false+", "rate", "first FP at", "false-", "workload detail");
  for (const FpRow& r : rows) {
    const std::string first =
        r.first_fp_n < 0 ? std::string("-") : fmt::format("ref {}", r.first_fp_refcount);
    std::string fneg = fmt::format("{}/{}", r.false_negatives, r.pinned_samples);
    if (!pin_design_props(r.design).tracks_pins) fneg += " (no tracking)";
    s += fmt::format("{:<15} {:<9} {:>7} {:>7} {:>7.2f}% {:>11} {:<19} {}\n", to_string(r.design),
                     to_string(r.workload), r.samples, r.false_positives, 100.0 * r.rate(), first, fneg, r.note);
  }
  return s;
}

}  // namespace guplab
