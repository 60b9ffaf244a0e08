// truncate.cc - removing page-cache pages, unmapping file ranges, i_size changes.
#include "mm/truncate.h"

#include <fmt/format.h>

#include <cstring>
#include <string>
#include <vector>

#include "base/bug.h"
#include "base/errno.h"
#include "drivers/iommu.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/fake_vma.h"
#include "mm/filemap.h"
#include "mm/gup.h"
#include "mm/internal.h"
#include "mm/memory.h"
#include "mm/mmu_notifier.h"
#include "mm/pagemap.h"
#include "mm/pgalloc.h"
#include "mm/rmap.h"
#include "mm/swap.h"
#include "mm/swapops.h"

namespace guplab {

namespace {

inline unsigned long next_pmd(unsigned long addr) { return (addr + PMD_SIZE) & PMD_MASK; }

// Zap the ptes of [@start, @end) of file vma @vma that map file pages (and, with
// @even_cows, private copies), or only those mapping @only.
void zap_file_range(vm_area_struct* vma, unsigned long start, unsigned long end, bool even_cows, folio* only,
                    mmu_notifier_event event) {
  mm_struct* mm = vma->vm_mm;
  MmuNotifierScope notify(event, mm, start, end);
  const PhysMem& mem = mm_mem(mm);
  mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm);
  for (unsigned long addr = start; addr < end;) {
    const unsigned long stop = next_pmd(addr) < end ? next_pmd(addr) : end;
    {
      // Under page_table_lock no table of this mm can be freed (pgalloc.h rule (a)).
      SpinGuard g(&mm->page_table_lock);
      pgtable_slot* pmdp = pmd_walk(mm, addr);
      pmd_t pmd = pmdp ? pmdp_get(pmdp) : pmd_t{0};
      if (pmd_present(pmd) && !pmd_leaf(pmd)) {
        for (unsigned long a = addr; a < stop; a += PAGE_SIZE) {
          pgtable_slot* slot = pte_offset(mem, pmd, a);
          pte_t pte = ptep_get(slot);
          if (is_migration_entry(pte)) {  // a page being migrated: drop the entry, as zap does
            page* mp = mm_pfn_page(mm, migration_entry_pfn(pte));
            const bool anon = PageAnon(mp);
            if ((only && page_folio(mp) != only) || (anon && !even_cows)) continue;
            ptep_get_and_clear(slot);
            add_mm_rss(mm, anon, -1);
            continue;
          }
          if (!pte_present(pte)) continue;
          page* p = vm_normal_page(vma, a, pte);
          if (!p) {  // the zero page: only a private mapping's, with the copies
            if (even_cows && !only) ptep_get_and_clear(slot);
            continue;
          }
          folio* f = page_folio(p);
          if (only && f != only) continue;
          const bool anon = PageAnon(f);
          if (anon && !even_cows) continue;
          pte = ptep_get_and_clear(slot);
          if (pte_dirty(pte)) folio_mark_dirty(f);
          page_remove_rmap(p, vma, false);
          add_mm_rss(mm, anon, -1);
          tlb_remove_page(&tlb, p);
        }
      }
    }
    addr = stop;
  }
  tlb_finish_mmu(&tlb);
}

void unmap_mapping_pages(address_space* mapping, pgoff_t first, pgoff_t last, bool even_cows, folio* only,
                         mmu_notifier_event event) {
  i_mmap_lock_read(mapping);
  for (list_head* e = mapping->i_mmap.next; e != &mapping->i_mmap; e = e->next) {
    vm_area_struct* vma = list_entry(e, vm_area_struct, shared);
    if (vma_is_gup_fake(vma)) continue;  // a pin has no ptes to zap
    const pgoff_t vba = vma->vm_pgoff;
    const pgoff_t vea = vba + vma_pages(vma) - 1;
    const pgoff_t zba = first > vba ? first : vba;
    const pgoff_t zea = last < vea ? last : vea;
    if (zba > zea) continue;
    const unsigned long start = vma->vm_start + ((zba - vba) << PAGE_SHIFT);
    const unsigned long end = vma->vm_start + ((zea - vba + 1) << PAGE_SHIFT);
    zap_file_range(vma, start, end, even_cows, only, event);
  }
  i_mmap_unlock_read(mapping);
}

// Policy revoke: the listeners have let go at MMU_NOTIFY_TRUNCATE (and the lease
// holders before it); a device whose IOMMU still maps @f's frame is a long-term pinner
// that did not listen. WARN, and point its entries at the scratch frame so that its
// later DMA cannot reach whoever gets the frame or the block next.
void truncate_revoke_iommu(Machine* m, folio* f) {
  std::vector<std::string> who;
  if (!m->iommu().revoke_pfn(page_to_pfn(f), &who)) return;
  std::string names;
  for (const std::string& n : who) names += (names.empty() ? "" : ", ") + n;
  warn_hit(__FILE__, __LINE__, __func__, "long-term pinner did not listen", false,
           fmt::format("truncate: pfn {:#x} (index {}) is still mapped by {}: no notifier, no lease; its DMA now "
                       "lands in the scratch page",
                       page_to_pfn(f), f->index, names));
}

// Take locked @f, which is in @mapping, out of the page cache.
void truncate_inode_folio(address_space* mapping, folio* f) {
  if (folio_mapped(f)) unmap_mapping_folio(f);
  if (PagePrivate(f)) folio_invalidate(f, 0, PAGE_SIZE);
  folio_cancel_dirty(f);
  Machine* m = page_machine(f);
  if (m->tracing() && folio_maybe_dma_pinned(f))
    m->trace(fmt::format("truncate: index {} is pinned: leaves the page cache, lives on", f->index));
  if (m->wb().truncate_revokes) truncate_revoke_iommu(m, f);
  filemap_remove_folio(f);
}

// Zero [@from, @to) of the page at @index (a page the truncation only partly covers).
void truncate_partial(address_space* mapping, pgoff_t index, unsigned from, unsigned to) {
  folio* f = __filemap_get_folio(mapping, index, FGP_LOCK, gfp_t::GFP_KERNEL);
  if (IS_ERR(f)) return;
  folio_wait_writeback(f);
  if (from < to) std::memset(static_cast<char*>(page_address(f)) + from, 0, to - from);
  if (PagePrivate(f)) folio_invalidate(f, from, to - from);
  folio_unlock(f);
  folio_put(f);
}

}  // namespace

void unmap_mapping_range(address_space* mapping, loff_t holebegin, loff_t holelen, bool even_cows,
                         mmu_notifier_event event) {
  const pgoff_t first = static_cast<pgoff_t>(holebegin >> PAGE_SHIFT);
  pgoff_t last = ~0ul;
  if (holelen > 0) last = static_cast<pgoff_t>((holebegin + holelen + static_cast<loff_t>(PAGE_SIZE) - 1) >> PAGE_SHIFT) - 1;
  unmap_mapping_pages(mapping, first, last, even_cows, nullptr, event);
}

void unmap_mapping_folio(folio* f) {
  BUG_ON(!PageLocked(f));
  address_space* mapping = folio_mapping_read(f);
  if (!mapping) return;
  unmap_mapping_pages(mapping, f->index, f->index, false, f, MMU_NOTIFY_CLEAR);
}

void folio_invalidate(folio* f, size_t offset, size_t len) {
  address_space* mapping = folio_mapping_read(f);
  if (mapping && mapping->a_ops && mapping->a_ops->invalidate_folio)
    mapping->a_ops->invalidate_folio(f, offset, len);
}

void truncate_inode_pages_range(address_space* mapping, loff_t lstart, loff_t lend) {
  TEST_SYNC_POINT(sp::kTruncateStart);
  if (mapping->host && mapping_inode(mapping)->i_sb) {
    Machine* m = mapping_inode(mapping)->i_sb->s_machine;  // (umount at machine teardown has no task)
    if (m->tracing())
      m->trace(fmt::format("truncate: ino {} bytes [{}, {}]", mapping_inode(mapping)->i_ino, lstart, lend));
  }
  const pgoff_t start = static_cast<pgoff_t>((lstart + static_cast<loff_t>(PAGE_SIZE) - 1) >> PAGE_SHIFT);
  const unsigned partial_start = static_cast<unsigned>(lstart & ~PAGE_MASK);
  pgoff_t end = ~0ul;  // exclusive: whole pages before it
  unsigned partial_end = 0;
  if (lend != -1) {
    end = static_cast<pgoff_t>((lend + 1) >> PAGE_SHIFT);
    partial_end = static_cast<unsigned>((lend + 1) & ~PAGE_MASK);
  }
  if (filemap_nr_pages(mapping)) {
    pgoff_t index = start;
    folio_batch fb;
    while (index < end && filemap_get_folios(mapping, &index, end - 1, &fb)) {
      for (unsigned i = 0; i < fb.nr; i++) {
        folio* f = fb.folios[i];
        folio_lock(f);
        if (folio_mapping_read(f) == mapping) {
          folio_wait_writeback(f);
          truncate_inode_folio(mapping, f);
        }
        folio_unlock(f);
      }
      folio_batch_release(&fb);
      cond_resched();
    }
    if (partial_start) {
      const pgoff_t idx = static_cast<pgoff_t>(lstart >> PAGE_SHIFT);
      const unsigned to = (end == idx && partial_end) ? partial_end : static_cast<unsigned>(PAGE_SIZE);
      truncate_partial(mapping, idx, partial_start, to);
    }
    if (partial_end && !(partial_start && end == static_cast<pgoff_t>(lstart >> PAGE_SHIFT)))
      truncate_partial(mapping, end, 0, partial_end);
  }
  TEST_SYNC_POINT(sp::kTruncateDone);
}

void truncate_inode_pages(address_space* mapping, loff_t lstart) { truncate_inode_pages_range(mapping, lstart, -1); }

void truncate_inode_pages_final(address_space* mapping) {
  while (filemap_nr_pages(mapping)) truncate_inode_pages(mapping, 0);
}

void truncate_pagecache(inode* ino, loff_t newsize) {
  address_space* mapping = ino->i_mapping;
  const loff_t holebegin = (newsize + static_cast<loff_t>(PAGE_SIZE) - 1) & ~static_cast<loff_t>(PAGE_SIZE - 1);
  // Unmap first so that nobody dirties through a pte what truncate is about to drop,
  // and again after, for a fault that raced in between.
  // Seed 003: the invalidation says TRUNCATE, so a device mirroring the range knows the
  // blocks behind it are going away, not merely the ptes.
  unmap_mapping_range(mapping, holebegin, 0, true, MMU_NOTIFY_TRUNCATE);
  truncate_inode_pages(mapping, newsize);
  unmap_mapping_range(mapping, holebegin, 0, true, MMU_NOTIFY_TRUNCATE);
}

void pagecache_isize_extended(inode* ino, loff_t from, loff_t to) {
  const unsigned long bsize = ino->i_sb->s_blocksize;
  WARN_ON(to > i_size_read(ino));
  if (from >= to || bsize >= PAGE_SIZE) return;
  const loff_t rounded_from = (from + static_cast<loff_t>(bsize) - 1) & ~static_cast<loff_t>(bsize - 1);
  if (to <= rounded_from || !(rounded_from & static_cast<loff_t>(PAGE_SIZE - 1))) return;
  address_space* mapping = ino->i_mapping;
  folio* f = __filemap_get_folio(mapping, static_cast<pgoff_t>(from >> PAGE_SHIFT), FGP_LOCK, gfp_t::GFP_KERNEL);
  if (IS_ERR(f)) return;
  // Seed 002's call site: skip_pinned_pages = false. The blocks past the old EOF in
  // this page have no disk space yet: a store through mmap must fault (page_mkwrite
  // allocates), so the ptes go read-only; the page stays dirty. Under `wait` a pin is
  // waited for first without the page lock: the page may be clean, and the pinner's
  // unpin then dirties it under that lock.
  while (folio_mkclean_wait_pinned(f)) {
    if (folio_mapping_read(f) != mapping) {  // truncated while we slept
      folio_unlock(f);
      folio_put(f);
      return;
    }
  }
  if (page_mkclean(f, false)) folio_mark_dirty(f);
  folio_unlock(f);
  folio_put(f);
}

void truncate_setsize(inode* ino, loff_t newsize) {
  const loff_t oldsize = i_size_read(ino);
  i_size_write(ino, newsize);
  if (newsize > oldsize) pagecache_isize_extended(ino, oldsize, newsize);
  truncate_pagecache(ino, newsize);
}

}  // namespace guplab
