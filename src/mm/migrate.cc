// migrate.cc - page migration: unmap with migration entries, check references, copy,
// switch the page-cache slot, remap.
#include "mm/migrate.h"

#include <fmt/format.h>

#include <vector>

#include "base/bug.h"
#include "base/errno.h"
#include "base/rcu.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "machine/trace_point.h"
#include "mm/fake_vma.h"
#include "mm/filemap.h"
#include "mm/gup.h"
#include "mm/hugetlb.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/memory.h"
#include "mm/mmu_notifier.h"
#include "mm/page_ref.h"
#include "mm/pagemap.h"
#include "mm/pgalloc.h"
#include "mm/pin_design.h"
#include "mm/rmap.h"
#include "mm/shmem.h"
#include "mm/swap.h"
#include "mm/swapops.h"
#include "mm/vmscan.h"

namespace guplab {

const char* migrate_reason_name(migrate_reason r) {
  switch (r) {
    case MR_COMPACTION: return "compaction";
    case MR_LONGTERM_PIN: return "longterm_pin";
    case MR_SYSCALL: return "syscall";
  }
  return "?";
}

namespace {

constexpr int kMaxPasses = 10;  // upstream's NR_MAX_MIGRATE_PAGES_RETRY

void mtrace(Machine* m, const std::string& line) {
  if (m->tracing()) m->trace(line);
}

/**
 * The vmas that may map @f, visited with the rmap lock held (anon_vma root or
 * i_mmap_rwsem, read): the walk of rmap_walk(), but it works on a folio no page table
 * maps any more (rmap_walk_anon() gives up on one), because the caller took a
 * reference on the anon_vma while the folio was still mapped. Fake vmas are skipped.
 */
struct MigrateRmap {
  anon_vma* av = nullptr;         // anon: referenced
  address_space* mapping = nullptr;  // file

  /** Take hold of @f's rmap. False if there is none to walk (an anon folio no one maps). */
  bool get(folio* f) {
    if (PageAnon(f)) {
      RcuReadGuard rcu;
      anon_vma* a = page_anon_vma(f);
      if (!a || !folio_mapped(f) || !atomic_inc_not_zero(&a->refcount)) return false;
      av = a;
      return true;
    }
    mapping = page_mapping(f);
    return mapping != nullptr;
  }
  void put() {
    if (av) put_anon_vma(av);
    av = nullptr;
  }
  template <typename Fn>
  void walk(folio* f, Fn&& fn) NO_THREAD_SAFETY_ANALYSIS /* the lock is the root's, or the mapping's */ {
    if (av) {
      anon_vma_lock_read(av);
      for (list_head* e = av->head.next; e != &av->head; e = e->next) {
        anon_vma_chain* avc = list_entry(e, anon_vma_chain, same_anon_vma);
        visit(f, avc->vma, fn);
      }
      anon_vma_unlock_read(av);
    } else if (mapping) {
      i_mmap_lock_read(mapping);
      for (list_head* e = mapping->i_mmap.next; e != &mapping->i_mmap; e = e->next)
        visit(f, list_entry(e, vm_area_struct, shared), fn);
      i_mmap_unlock_read(mapping);
    }
  }

 private:
  template <typename Fn>
  static void visit(folio* f, vm_area_struct* vma, Fn& fn) {
    if (vma_is_gup_fake(vma)) return;
    const unsigned long address = vma_address(f, vma);
    if (address == static_cast<unsigned long>(-EFAULT)) return;
    fn(vma, address);
  }
};

// The pte slot of @address in @mm, or nullptr. REQUIRES: page_table_lock held.
pgtable_slot* pte_slot_locked(mm_struct* mm, unsigned long address) {
  pgtable_slot* pmdp = pmd_walk(mm, address);
  if (!pmdp) return nullptr;
  const pmd_t pmd = pmdp_get(pmdp);
  if (!pmd_present(pmd) || pmd_leaf(pmd)) return nullptr;
  return pte_offset(mm_mem(mm), pmd, address);
}

/**
 * try_to_migrate() - replace every pte mapping @src by a migration entry, each vma's
 * inside an MMU_NOTIFY_MIGRATE invalidation; the mappings' rmap and references go.
 * Returns true if nothing maps @src any more.
 */
bool try_to_migrate(folio* src, MigrateRmap* rmap) {
  const unsigned long pfn = page_to_pfn(src);
  rmap->walk(src, [&](vm_area_struct* vma, unsigned long address) {
    mm_struct* mm = vma->vm_mm;
    MmuNotifierScope scope(MMU_NOTIFY_MIGRATE, mm, address, address + PAGE_SIZE);
    SpinGuard g(&mm->page_table_lock);
    pgtable_slot* ptep = pte_slot_locked(mm, address);
    if (!ptep) return;
    pte_t pte = ptep_get(ptep);
    if (!pte_present(pte) || pte_pfn(pte) != pfn) return;
    pte = ptep_get_and_clear(ptep);
    if (pte_dirty(pte)) folio_mark_dirty(src);
    const bool exclusive = PageAnon(src) && PageAnonExclusive(src);
    if (exclusive) ClearPageAnonExclusive(src);
    set_pte(ptep, make_migration_entry(pte, exclusive));
    page_remove_rmap(src, vma, false);
    page_ref_dec(src);  // the mapping's reference; never the last (the caller holds one)
  });
  return !folio_mapped(src);
}

/**
 * remove_migration_ptes() - turn the migration entries of @src back into ptes, of @dst
 * (after a migration) or of @src itself (after a failure); each takes a reference and
 * an rmap entry of the folio it now maps.
 */
void remove_migration_ptes(folio* src, folio* dst, MigrateRmap* rmap) {
  const unsigned long pfn = page_to_pfn(src);
  rmap->walk(src, [&](vm_area_struct* vma, unsigned long address) {
    mm_struct* mm = vma->vm_mm;
    SpinGuard g(&mm->page_table_lock);
    pgtable_slot* ptep = pte_slot_locked(mm, address);
    if (!ptep) return;
    const pte_t e = ptep_get(ptep);
    if (!is_migration_entry(e) || migration_entry_pfn(e) != pfn) return;
    pte_t pte = pte_wrprotect(mk_pte(dst, vma->vm_page_prot));
    if (is_writable_migration_entry(e)) pte = pte_mkwrite(pte);
    if (e.val & _PAGE_DIRTY) pte = pte_mkdirty(pte);
    if (e.val & _PAGE_ACCESSED) pte = pte_mkyoung(pte);
    if (e.val & _PAGE_SOFTW_UFFD) pte = pte_mkuffd_wp(pte);
    folio_get(dst);
    if (PageAnon(dst)) page_add_anon_rmap(dst, vma, address, is_exclusive_migration_entry(e) ? RMAP_EXCLUSIVE : RMAP_NONE);
    else page_add_file_rmap(dst, vma, false);
    set_pte(ptep, pte);
  });
}

// What a page-table page, the page cache and buffers account for (folio_expected_refs()),
// plus the caller's isolation reference.
int folio_expected_refs(address_space* mapping, folio* f) {
  int refs = 1;
  if (!mapping) return refs;
  refs += 1;  // the page cache's
  if (PagePrivate(f)) refs += 1;
  return refs;
}

constexpr uint64_t kMigratedFlags = (1ull << PG_uptodate) | (1ull << PG_referenced) | (1ull << PG_active) |
                                    (1ull << PG_workingset) | (1ull << PG_error) | (1ull << PG_swapbacked) |
                                    (1ull << PG_unevictable) | (1ull << PG_mlocked);

// folio_migrate_copy(): contents, then state. REQUIRES: both locked, @dst invisible.
void folio_migrate_copy(folio* dst, folio* src) {
  copy_user_highpage(dst, src);
  dst->flags.fetch_or(src->flags.load(std::memory_order_relaxed) & kMigratedFlags, std::memory_order_release);
  if (PageDirty(src)) SetPageDirty(dst);  // moved below, once the switch is done
  dst->index = src->index;
}

// Undo folio_migrate_copy() on a @dst that is not going to be used.
void folio_migrate_uncopy(folio* dst) {
  dst->flags.fetch_and(~(kMigratedFlags | (1ull << PG_dirty)), std::memory_order_relaxed);
  folio_mapping_write(dst, nullptr);
  dst->index = 0;
}

/**
 * folio_migrate_mapping() - make @dst take @src's place for everyone who finds it by
 * reference rather than by page table: nobody but the caller may hold a reference
 * (unless @check_refs is false: design `get`), and a page-cache folio's slot now holds
 * @dst, with the cache's reference. Returns 0 or -EAGAIN.
 */
int folio_migrate_mapping(address_space* mapping, folio* dst, folio* src, bool check_refs) {
  const int expected = folio_expected_refs(mapping, src);
  if (!mapping) {
    if (check_refs && folio_ref_count_acquire(src) != expected) return -EAGAIN;
    folio_mapping_write(dst, folio_mapping_read(src));
    return 0;
  }
  SpinGuard g(&mapping->i_pages.xa_lock);
  if (PagePrivate(src)) return -EAGAIN;  // buffers came back meanwhile (a pte's dirty bit)
  if (check_refs && !page_ref_freeze(src, expected)) return -EAGAIN;
  if (xa_load(&mapping->i_pages, src->index) != src) {
    if (check_refs) page_ref_unfreeze(src, expected);
    return -EAGAIN;
  }
  folio_mapping_write(dst, mapping);
  page_ref_inc(dst);  // the page cache's
  __xa_store(&mapping->i_pages, src->index, dst);
  if (check_refs) page_ref_unfreeze(src, expected - 1);
  else page_ref_dec(src);  // the cache's reference moved to @dst
  return 0;
}

// The kernel's fallback_migrate_folio() for what ->migrate_folio would do with buffers.
int drop_buffers_for_migration(folio* src) {
  if (!PagePrivate(src)) return 0;
  if (PageDirty(src)) return -EBUSY;  // no writeout from migration in the model
  return try_to_release_page(src, gfp_t::GFP_KERNEL) ? 0 : -EAGAIN;
}

// -EBUSY for what the model does not migrate at all (the header's list).
int folio_unmovable(folio* src) { return folio_migration_supported(src) ? 0 : -EBUSY; }

int __migrate_folio_to(folio* src, folio* dst, migrate_mode mode, Machine* m, bool* unmapped) {
  if (int r = folio_unmovable(src)) return r;
  const PinDesignProps props = pin_design_props(m->pin_design());
  // Tracking designs: a page that may be DMA-pinned is not moved (its pinner would keep
  // using the old frame). Under `get` nothing can be asked (docs/seeds.md D-migrate-1).
  if (props.tracks_pins && folio_maybe_dma_pinned(src)) {
    mtrace(m, fmt::format("migrate: pfn {:#x} may be DMA-pinned: not moved", page_to_pfn(src)));
    return -EAGAIN;
  }
  if (PageWriteback(src)) {
    if (mode == MIGRATE_ASYNC) return -EBUSY;
    folio_wait_writeback(src);
  }
  if (int r = drop_buffers_for_migration(src)) return r;
  address_space* const mapping = page_mapping(src);
  MigrateRmap rmap;
  const bool walk = rmap.get(src);
  if (folio_mapped(src) && (!walk || !try_to_migrate(src, &rmap))) {
    // Still mapped (a fake vma, a PMD, a mapping the walk cannot see): put back what went.
    if (walk) remove_migration_ptes(src, src, &rmap);
    rmap.put();
    return -EAGAIN;
  }
  *unmapped = true;
  // Nobody but the caller may hold a reference before the copy, as the kernel checks
  // before it does more work: a holder may still be writing the frame (the model's
  // uaccess copies through a reference), and the copy would take half of its store.
  // A new reference now needs the page tables (migration entries) or the page cache
  // (the folio lock; the freeze below).
  if (props.tracks_pins && folio_ref_count_acquire(src) != folio_expected_refs(mapping, src)) {
    if (walk) remove_migration_ptes(src, src, &rmap);
    rmap.put();
    return -EAGAIN;
  }
  folio_migrate_copy(dst, src);
  int ret = folio_migrate_mapping(mapping, dst, src, props.tracks_pins);
  if (ret) {
    folio_migrate_uncopy(dst);
    if (walk) remove_migration_ptes(src, src, &rmap);
    rmap.put();
    return ret;
  }
  if (TestClearPageDirty(src)) SetPageDirty(dst);
  if (walk) remove_migration_ptes(src, dst, &rmap);
  rmap.put();
  // @src is nobody's now: unmapped, out of the cache. Under `get` a pinner may still
  // hold it, and writes into it.
  folio_mapping_write(src, nullptr);
  src->flags.fetch_and(~(kMigratedFlags | (1ull << PG_dirty) | (1ull << PG_anon_exclusive)), std::memory_order_relaxed);
  return 0;
}

}  // namespace

bool folio_migration_supported(const folio* f) {
  if (folio_test_large(f) || folio_test_hugetlb(f) || PageZero(f) || PageReserved(f)) return false;
  if (PageAnon(f)) return true;
  address_space* mapping = page_mapping(f);
  if (!mapping || shmem_mapping(mapping)) return false;  // truncated meanwhile, or shmem
  return xa_load(&mapping->i_pages, f->index) == f;     // a page-cache folio of i_pages
}

int migrate_folio_to(folio* src, folio* dst, migrate_mode mode, migrate_reason reason) {
  Machine* m = page_machine(src);
  BUG_ON(folio_test_large(dst) || page_ref_count(dst) != 1);
  if (mode == MIGRATE_ASYNC) {
    if (!folio_trylock(src)) {
      folio_put(dst);
      return -EAGAIN;
    }
  } else {
    folio_lock(src);
  }
  const bool dst_locked = folio_trylock(dst);
  BUG_ON(!dst_locked);  // nobody else can see it
  bool unmapped = false;
  const int ret = __migrate_folio_to(src, dst, mode, m, &unmapped);
  const unsigned long from = page_to_pfn(src), to = page_to_pfn(dst);
  folio_unlock(dst);
  folio_unlock(src);
  trace_point(m, "migrate", "migrate_folio", "pfn={:#x} to={:#x} reason={} ret={}", from, to,
              migrate_reason_name(reason), ret);
  if (ret) {
    folio_put(dst);
    return ret;
  }
  mtrace(m, fmt::format("migrate: pfn {:#x} -> pfn {:#x} ({})", from, to, migrate_reason_name(reason)));
  folio_putback_lru(dst);  // on the LRU, our allocation reference dropped
  folio_put(src);          // the isolation reference: freed unless someone still holds it
  return 0;
}

int migrate_pages(Machine* m, list_head* from, const new_folio_t& get_new, migrate_mode mode,
                  migrate_reason reason, unsigned* nr_succeeded) {
  unsigned ok = 0;
  int failed = 0;
  bool oom = false;
  const bool tracks = pin_design_props(m->pin_design()).tracks_pins;
  for (int pass = 0; pass < kMaxPasses && !list_empty(from) && !oom; pass++) {
    std::vector<folio*> batch;
    for (list_head* e = from->next; e != from; e = e->next) batch.push_back(static_cast<folio*>(list_entry(e, page, lru)));
    for (folio* f : batch) {
      folio* dst = get_new(f);
      if (!dst) {
        oom = true;
        break;
      }
      list_del(&f->lru);
      const int r = migrate_folio_to(f, dst, mode, reason);
      if (r == 0) {
        ok++;
        continue;
      }
      // A pin is not transient: a maybe-pinned folio is not tried again.
      if (r == -EAGAIN && pass + 1 < kMaxPasses && !(tracks && folio_maybe_dma_pinned(f))) {
        list_add_tail(&f->lru, from);  // try again next pass
        continue;
      }
      failed++;
      folio_putback_lru(f);
    }
    if (mode == MIGRATE_ASYNC) break;
  }
  while (!list_empty(from)) {  // out of passes, or of memory
    folio* f = static_cast<folio*>(list_entry(from->next, page, lru));
    list_del(&f->lru);
    failed++;
    folio_putback_lru(f);
  }
  m->vmstat().mod(PGMIGRATE_SUCCESS, ok);
  m->vmstat().mod(PGMIGRATE_FAIL, failed);
  if (nr_succeeded) *nr_succeeded = ok;
  return oom ? -ENOMEM : failed;
}

bool isolate_folio_for_migration(page* p, list_head* list) {
  folio* f = page_folio(p);
  if (folio_test_large(f) || !PageLRU(f)) return false;
  if (!folio_isolate_lru(f)) return false;
  if (page_folio(p) != f) {  // freed and reused as part of another folio meanwhile
    folio_putback_lru(f);
    return false;
  }
  list_add_tail(&f->lru, list);
  return true;
}

void migration_entry_wait(mm_struct* mm, pgtable_slot* ptep, pte_t orig) {
  folio* f;
  {
    SpinGuard g(&mm->page_table_lock);
    if (!pte_same(ptep_get(ptep), orig)) return;  // done already: fault again
    f = page_folio(mm_pfn_page(mm, migration_entry_pfn(orig)));
  }
  folio_wait_locked(f);
}

}  // namespace guplab
