// gup_longterm.cc - the FOLL_LONGTERM rules: where a long-term pin may hold a page, and
// which mappings it may not pin at all.
#include "mm/gup_longterm.h"

#include <fmt/format.h>

#include <vector>

#include "base/errno.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "machine/trace_point.h"
#include "mm/lru.h"
#include "mm/migrate.h"
#include "mm/mm_struct.h"
#include "mm/page_alloc.h"
#include "mm/shmem.h"
#include "mm/swap.h"
#include "mm/vma.h"

namespace guplab {

bool longterm_rules_upstream(const mm_struct* mm) {
  return mm->machine->config().longterm_rules == LongtermRules::upstream;
}

bool is_migrate_cma_page(const page* p) {
  Machine* m = page_machine(p);
  const unsigned long cma = m->config().cma_bytes >> PAGE_SHIFT;
  if (!cma) return false;
  const unsigned long end = m->zones()[ZONE_MOVABLE].zone_start_pfn;  // ZONE_NORMAL's end
  const unsigned long start = cma < end ? end - cma : 0;
  const unsigned long pfn = page_to_pfn(p);
  return pfn >= start && pfn < end;
}

bool folio_is_longterm_pinnable(const folio* f) {
  if (PageZero(f)) return true;
  return page_zonenum(f) != ZONE_MOVABLE && !is_migrate_cma_page(f);
}

bool vma_needs_dirty_tracking(const vm_area_struct* vma) {
  if (!any(vma->vm_flags, VM_SHARED) || !any(vma->vm_flags, VM_WRITE) || vma_is_shmem(vma)) return false;
  if (vma->vm_ops && vma->vm_ops->page_mkwrite) return true;  // the filesystem wants write faults
  if (!vma->vm_file) return false;
  const address_space* mapping = vma->vm_file->f_mapping;
  if (!mapping || shmem_mapping(mapping) || !mapping->a_ops) return false;
  return mapping->a_ops->writepage || mapping->a_ops->writepages;  // it writes back
}

bool writable_file_mapping_allowed(const vm_area_struct* vma, foll_flags flags) {
  constexpr foll_flags all = FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE;
  if ((flags & all) != all) return true;
  return !vma_needs_dirty_tracking(vma);
}

int check_longterm_vma(const vm_area_struct* vma, foll_flags flags) {
  if (!any(flags, FOLL_LONGTERM)) return 0;
  // fs-DAX is refused in check_vma_flags() (mm/gup.c), under both rule sets, unless the
  // policy revokes long-term pins at truncate.
  if (longterm_rules_upstream(vma->vm_mm) && !writable_file_mapping_allowed(vma, flags)) return -EFAULT;
  return 0;
}

namespace {

void release_pages(page** pages, unsigned long nr, foll_flags flags) {
  if (any(flags, FOLL_PIN)) {
    unpin_user_pages(pages, nr);
    return;
  }
  for (unsigned long i = 0; i < nr; i++) put_page(pages[i]);
}

// A target for a page leaving ZONE_MOVABLE / CMA: ZONE_NORMAL, outside the CMA area.
// Frames that come from the CMA area are held aside and given back at the end.
struct PinnableAlloc {
  Machine* m;
  std::vector<page*> aside;
  folio* operator()(folio*) {
    for (int tries = 0; tries < 64; tries++) {
      page* p = alloc_pages_on(m, gfp_t::GFP_HIGHUSER, 0);
      if (!p) return nullptr;
      if (page_zonenum(p) != ZONE_MOVABLE && !is_migrate_cma_page(p)) return page_folio(p);
      aside.push_back(p);
    }
    return nullptr;
  }
  ~PinnableAlloc() {
    for (page* p : aside) __free_page(p);
  }
};

}  // namespace

int check_and_migrate_movable_pages(unsigned long nr_pages, page** pages, foll_flags flags) {
  if (!nr_pages) return 0;
  Machine* m = page_machine(pages[0]);
  std::vector<folio*> movable;
  for (unsigned long i = 0; i < nr_pages; i++) {
    folio* f = page_folio(pages[i]);
    if (folio_is_longterm_pinnable(f) || !folio_migration_supported(f)) continue;
    if (!movable.empty() && movable.back() == f) continue;
    movable.push_back(f);
  }
  if (movable.empty()) return 0;
  // Hold each folio by a plain reference, let the pins go, then isolate (seed 002's
  // design keeps a pinned page off the LRU, so isolation waits for the unpin) and migrate.
  for (folio* f : movable) folio_get(f);
  release_pages(pages, nr_pages, flags);
  list_head list;
  INIT_LIST_HEAD(&list);
  unsigned long isolated = 0;
  for (folio* f : movable) {
    if (isolate_folio_for_migration(f, &list)) isolated++;
    folio_put(f);  // the isolation holds it now (or it is not ours to move)
  }
  if (!isolated) return -EAGAIN;  // someone else has them off the LRU right now: try again
  unsigned ok = 0;
  int r;
  {
    PinnableAlloc alloc{m, {}};
    r = migrate_pages(m, &list, [&alloc](folio* src) { return alloc(src); }, MIGRATE_SYNC, MR_LONGTERM_PIN, &ok);
  }
  trace_point(m, "pin", "check_and_migrate_movable_pages", "nr={} movable={} migrated={} ret={}", nr_pages,
              movable.size(), ok, r);
  if (m->tracing())
    m->trace(fmt::format("gup: FOLL_LONGTERM: {} of {} movable pages migrated out before pinning", ok, movable.size()));
  return r == 0 ? -EAGAIN : -ENOMEM;
}

}  // namespace guplab
