// compaction.cc - the migrate scanner, the free scanner, and migrate_pages() between.
#include "mm/compaction.h"

#include "base/errno.h"
#include "base/sched.h"
#include "machine/machine.h"
#include "machine/trace_point.h"
#include "mm/memory_model.h"
#include "mm/page-flags.h"
#include "mm/page_alloc.h"

namespace guplab {

namespace {

constexpr unsigned long kBatch = 32;  // COMPACT_CLUSTER_MAX

/**
 * The free scanner: frames of one zone from the top down, skipping [skip_start,
 * skip_end), never at or below *floor (the migrate scanner, for compact_zone()).
 */
struct FreeScanner {
  Machine* m;
  unsigned long pfn;         // next frame to look at is pfn - 1
  unsigned long lowest;      // zone start
  unsigned long skip_start, skip_end;
  const unsigned long* floor;
  compact_control* cc;

  folio* next() {
    while (pfn > lowest) {
      const unsigned long p = --pfn;
      if (floor && p <= *floor) return nullptr;
      if (p >= skip_start && p < skip_end) {
        pfn = skip_start;
        continue;
      }
      cc->nr_free_scanned++;
      if (page* q = take_free_page(m, p)) return page_folio(q);
    }
    return nullptr;
  }
};

// Isolate what the migrate scanner finds in [*pfn, end) onto @list, up to kBatch.
void isolate_migratepages(Machine* m, unsigned long* pfn, unsigned long end, list_head* list, compact_control* cc) {
  PhysMem& mem = m->mem();
  unsigned long n = 0;
  for (; *pfn < end && n < kBatch; (*pfn)++) {
    page* p = mem.pfn_to_page(*pfn);
    cc->nr_migrate_scanned++;
    if (PageBuddy(p) || !PageLRU(p) || PageCompound(p)) continue;
    if (isolate_folio_for_migration(p, list)) n++;
  }
  cc->nr_isolated += n;
}

int run_compaction(Machine* m, unsigned long start, unsigned long end, FreeScanner* fs, compact_control* cc) {
  int ret = 0;
  unsigned long pfn = start;
  while (pfn < end) {
    list_head list;
    INIT_LIST_HEAD(&list);
    const unsigned long before = cc->nr_isolated;
    isolate_migratepages(m, &pfn, end, &list, cc);
    const unsigned long isolated = cc->nr_isolated - before;
    if (!isolated) continue;
    unsigned ok = 0;
    const int r = migrate_pages(
        m, &list, [fs](folio*) { return fs->next(); }, cc->mode, MR_COMPACTION, &ok);
    cc->nr_migrated += ok;
    cc->nr_failed += isolated - ok;
    if (r < 0) return r;
    if (r > 0) ret = -EAGAIN;
    cond_resched();
  }
  return ret;
}

void count_scans(Machine* m, const compact_control& cc) {
  m->vmstat().mod(COMPACT_MIGRATE_SCANNED, static_cast<int64_t>(cc.nr_migrate_scanned));
  m->vmstat().mod(COMPACT_FREE_SCANNED, static_cast<int64_t>(cc.nr_free_scanned));
}

}  // namespace

int compact_range(Machine* m, unsigned long start_pfn, unsigned long end_pfn, compact_control* cc) {
  if (start_pfn >= end_pfn || !m->mem().pfn_valid(end_pfn - 1)) return -EINVAL;
  zone* z = page_zone(m->mem().pfn_to_page(start_pfn));
  const unsigned long zend = z->zone_start_pfn + z->spanned_pages;
  if (end_pfn > zend) return -EINVAL;
  FreeScanner fs{m, zend, z->zone_start_pfn, start_pfn, end_pfn, nullptr, cc};
  const int ret = run_compaction(m, start_pfn, end_pfn, &fs, cc);
  count_scans(m, *cc);
  trace_point(m, "compaction", "compact_range", "start={:#x} end={:#x} migrated={} failed={} ret={}", start_pfn,
              end_pfn, cc->nr_migrated, cc->nr_failed, ret);
  return ret;
}

int compact_zone(Machine* m, unsigned zid, compact_control* cc) {
  if (zid >= MAX_NR_ZONES) return -EINVAL;
  zone* z = &m->zones()[zid];
  if (z->spanned_pages == 0) return -EINVAL;
  const unsigned long start = z->zone_start_pfn, end = start + z->spanned_pages;
  // The free scanner stays above the chunk the migrate scanner works on; the migrate
  // scanner stops where the free scanner has been (a frame it took is a target now).
  unsigned long floor = start;
  FreeScanner fs{m, end, start, 0, 0, &floor, cc};
  int ret = 0;
  for (unsigned long from = start; from < fs.pfn;) {
    const unsigned long chunk_end = from + kBatch < fs.pfn ? from + kBatch : fs.pfn;
    floor = chunk_end - 1;
    const int r = run_compaction(m, from, chunk_end, &fs, cc);
    from = chunk_end;
    if (r == -ENOMEM) break;  // the scanners met
    if (r) ret = r;
  }
  count_scans(m, *cc);
  trace_point(m, "compaction", "compact_zone", "zone={} migrated={} failed={} ret={}", z->name, cc->nr_migrated,
              cc->nr_failed, ret);
  return ret;
}

}  // namespace guplab
