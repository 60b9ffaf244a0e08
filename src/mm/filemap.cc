// filemap.cc - the page cache: index, lookup, add/remove, faults, read and write loops.
#include "mm/filemap.h"

#include <fmt/format.h>

#include <cstring>

#include "base/bug.h"
#include "base/errno.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/mm_struct.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/swap.h"

namespace guplab {

// ---- address_space ------------------------------------------------------------------

address_space::address_space() NO_THREAD_SAFETY_ANALYSIS {
  init_rwsem(&i_mmap_rwsem, "i_mmap_rwsem");
  init_rwsem(&invalidate_lock, "mapping.invalidate_lock");
  INIT_LIST_HEAD(&i_mmap);
  spin_lock_init(&private_lock, "mapping->private_lock");
}

address_space::~address_space() NO_THREAD_SAFETY_ANALYSIS {
  // Whoever owns the mapping truncated it and unlinked its vmas first.
  VM_BUG_ON(!(list_empty(&i_mmap)));
  VM_BUG_ON(!(nrpages.load(std::memory_order_relaxed) == 0));
}

// ---- helpers --------------------------------------------------------------------------

void folio_batch_release(folio_batch* fb) {
  for (unsigned i = 0; i < fb->nr; i++) folio_put(fb->folios[i]);
  fb->nr = 0;
}

folio* filemap_alloc_folio(Machine* m, gfp_t gfp) {
  page* p = alloc_pages_on(m, gfp, 0);
  return p ? page_folio(p) : nullptr;
}

void folio_wait_locked(folio* f) { wait_on_bit(folio_waitqueue_table(f), &f->flags, PG_locked); }

// ---- the index ------------------------------------------------------------------------

int filemap_add_folio(address_space* mapping, folio* f, pgoff_t index, gfp_t gfp) {
  BUG_ON(PageLocked(f) || f->mapping);
  Machine* m = page_machine(f);
  __SetPageLocked(f);
  f->index = index;
  folio_mapping_write(f, mapping);
  page_ref_inc(f);  // the cache's reference
  bool added = false;
  {
    SpinGuard g(&mapping->i_pages.xa_lock);
    if (!xa_load(&mapping->i_pages, index)) {
      __xa_store(&mapping->i_pages, index, f);
      mapping->nrpages.fetch_add(1, std::memory_order_relaxed);
      added = true;
    }
  }
  if (!added) {
    page_ref_dec(f);
    folio_mapping_write(f, nullptr);
    __ClearPageLocked(f);
    return -EEXIST;
  }
  folio_add_lru(f);
  m->vmstat().inc(NR_FILE_PAGES);
  return 0;
}

folio* filemap_get_folio(address_space* mapping, pgoff_t index) {
  for (;;) {
    auto* f = static_cast<folio*>(xa_load(&mapping->i_pages, index));
    if (!f) return nullptr;
    // The page may be on its way to being freed (its count frozen by reclaim, or
    // reaching zero after truncate): a reference is only taken if it is not.
    if (!get_page_unless_zero(f)) {
      cond_resched();
      continue;
    }
    TEST_SYNC_POINT(sp::kFilemapGetFolioGotRef);
    // Holding a reference, check it is still the page at @index: it may have been
    // removed, freed and reused between the load and the reference.
    if (unlikely(xa_load(&mapping->i_pages, index) != f || page_folio(f) != f)) {
      folio_put(f);
      continue;
    }
    return f;
  }
}

folio* __filemap_get_folio(address_space* mapping, pgoff_t index, fgf_t fgp, gfp_t gfp) {
  for (;;) {
    folio* f = filemap_get_folio(mapping, index);
    if (f) {
      if (any(fgp, FGP_LOCK)) {
        if (any(fgp, FGP_NOWAIT)) {
          if (!folio_trylock(f)) {
            folio_put(f);
            return ERR_PTR<folio>(-EAGAIN);
          }
        } else {
          folio_lock(f);
        }
        if (folio_mapping_read(f) != mapping) {  // truncated while we waited
          folio_unlock(f);
          folio_put(f);
          continue;
        }
      }
      if (any(fgp, FGP_ACCESSED)) folio_mark_accessed(f);
      return f;
    }
    if (!any(fgp, FGP_CREAT)) return ERR_PTR<folio>(-ENOENT);
    Machine* m = current_machine();
    f = filemap_alloc_folio(m, gfp);
    if (!f) return ERR_PTR<folio>(-ENOMEM);
    if (filemap_add_folio(mapping, f, index, gfp) == -EEXIST) {
      folio_put(f);
      continue;
    }
    // New pages come back locked; drop the lock unless the caller wanted it.
    if (!any(fgp, FGP_LOCK)) folio_unlock(f);
    if (any(fgp, FGP_ACCESSED)) folio_mark_accessed(f);
    return f;
  }
}

void __filemap_remove_folio(address_space* mapping, folio* f) {
  BUG_ON(!PageLocked(f));
  BUG_ON(folio_mapping_read(f) != mapping);
  Machine* m = page_machine(f);
  void* old = __xa_erase(&mapping->i_pages, f->index);
  BUG_ON_MSG(old != f, fmt::format("page cache index {} held another page", f->index));
  mapping->nrpages.fetch_sub(1, std::memory_order_relaxed);
  folio_mapping_write(f, nullptr);
  m->vmstat().mod(NR_FILE_PAGES, -1);
  // A page leaving while dirty (truncate cancels dirtiness first) stops being counted.
  if (PageDirty(f)) m->vmstat().mod(NR_FILE_DIRTY, -1);
}

void filemap_remove_folio(folio* f) {
  address_space* mapping = folio_mapping_read(f);
  BUG_ON(!mapping);
  {
    SpinGuard g(&mapping->i_pages.xa_lock);
    __filemap_remove_folio(mapping, f);
  }
  folio_put(f);  // the cache's reference
}

namespace {
unsigned get_folios(address_space* mapping, pgoff_t* start, pgoff_t end, unsigned filter, folio_batch* fb) {
  fb->nr = 0;
  pgoff_t index = *start;
  while (fb->nr < folio_batch::kSize && index <= end) {
    pgoff_t found = index;
    auto* f = static_cast<folio*>(xa_find(&mapping->i_pages, &found, end, filter));
    if (!f) {
      index = end;
      if (end != ~0ul) index = end + 1;
      *start = index;
      return fb->nr;
    }
    if (get_page_unless_zero(f)) {
      if (xa_load(&mapping->i_pages, found) == f && page_folio(f) == f) fb->folios[fb->nr++] = f;
      else folio_put(f);
    }
    if (found == ~0ul) {
      index = found;
      break;
    }
    index = found + 1;
  }
  *start = index;
  return fb->nr;
}
}  // namespace

unsigned filemap_get_folios(address_space* mapping, pgoff_t* start, pgoff_t end, folio_batch* fb) {
  return get_folios(mapping, start, end, XA_PRESENT, fb);
}

unsigned filemap_get_folios_tag(address_space* mapping, pgoff_t* start, pgoff_t end, xa_mark_t tag,
                                folio_batch* fb) {
  return get_folios(mapping, start, end, tag, fb);
}

// ---- dirtying ---------------------------------------------------------------------------

bool filemap_dirty_folio(address_space* mapping, folio* f) {
  // Set and counted under xa_lock, so that a page leaving the cache (which uncounts a
  // dirty page under the same lock) is counted exactly once either way.
  bool counted = false;
  {
    SpinGuard g(&mapping->i_pages.xa_lock);
    if (TestSetPageDirty(f)) return false;
    if (folio_mapping_read(f) == mapping) {  // not truncated meanwhile
      __xa_set_mark(&mapping->i_pages, f->index, PAGECACHE_TAG_DIRTY);
      counted = true;
    }
  }
  if (counted) {
    page_machine(f)->vmstat().inc(NR_FILE_DIRTY);
    if (mapping->host) __mark_inode_dirty(mapping_inode(mapping), I_DIRTY_PAGES);
  }
  return true;
}

// ---- faults -------------------------------------------------------------------------------

namespace {

inline pgoff_t size_in_pages(loff_t size) { return static_cast<pgoff_t>((size + PAGE_SIZE - 1) >> PAGE_SHIFT); }

// Add a new page at @index and start reading it. Returns it referenced (locked until
// the read completes), nullptr if another page got there first, or an ERR_PTR.
folio* start_read(file* filp, address_space* mapping, pgoff_t index) {
  Machine* m = current_machine();
  folio* f = filemap_alloc_folio(m, gfp_t::GFP_HIGHUSER_MOVABLE);
  if (!f) return ERR_PTR<folio>(-ENOMEM);
  if (filemap_add_folio(mapping, f, index, gfp_t::GFP_HIGHUSER_MOVABLE) == -EEXIST) {
    folio_put(f);
    return nullptr;
  }
  m->vmstat().inc(PGPGIN);
  int err = mapping->a_ops->read_folio(filp, f);  // unlocks @f when the read completes
  if (err) {
    folio_put(f);
    return ERR_PTR<folio>(err);
  }
  return f;
}

// Read a locked page that is in the cache but not uptodate (an earlier read failed).
// Returns 0 with it locked and uptodate, or -EIO with it unlocked.
int reread_locked(file* filp, address_space* mapping, folio* f) {
  ClearPageError(f);
  int err = mapping->a_ops->read_folio(filp, f);
  if (err) return err;
  folio_lock(f);
  if (!PageUptodate(f)) {
    folio_unlock(f);
    return -EIO;
  }
  return 0;
}

}  // namespace

// The retry path releases mmap_lock and hands that fact to the caller through
// VM_FAULT_RETRY, which the analysis cannot follow.
vm_fault_t filemap_fault(vm_fault* vmf) NO_THREAD_SAFETY_ANALYSIS {
  mmap_assert_locked(vmf->vma->vm_mm);  // REQUIRES (filemap.h)
  vm_area_struct* vma = vmf->vma;
  file* filp = vma->vm_file;
  if (WARN_ON_ONCE(!filp)) return VM_FAULT_SIGBUS;
  address_space* mapping = filp->f_mapping;
  inode* ino = mapping_inode(mapping);
  const pgoff_t index = vmf->pgoff;
  mm_struct* mm = vma->vm_mm;
  const bool may_retry = any(vmf->flags, FAULT_FLAG_ALLOW_RETRY) && !any(vmf->flags, FAULT_FLAG_TRIED);
  const bool nowait = any(vmf->flags, FAULT_FLAG_RETRY_NOWAIT);
  vm_fault_t ret = VM_FAULT_NONE;
  for (;;) {
    if (index >= size_in_pages(i_size_read(ino))) return VM_FAULT_SIGBUS;
    folio* f = filemap_get_folio(mapping, index);
    if (!f) {
      // A major fault: the page must come from the device.
      if (may_retry && nowait) return VM_FAULT_RETRY;  // would wait for I/O; mmap_lock kept
      f = start_read(filp, mapping, index);
      if (!f) continue;
      if (IS_ERR(f)) return PTR_ERR(f) == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
      ret |= VM_FAULT_MAJOR;
      if (may_retry) {
        // Seed 001: do not hold mmap_lock across the I/O. The vma may be gone once it
        // is released; only the file (pinned here) and the page are used after it.
        file* pinned = get_file(filp);
        mmap_read_unlock(mm);
        TEST_SYNC_POINT(sp::kFaultRetryDropped);
        Machine* m = page_machine(f);
        if (m->tracing())
          m->trace(fmt::format("fault: ino {} index {} read in flight, mmap_lock dropped (VM_FAULT_RETRY)",
                               ino->i_ino, index));
        folio_wait_locked(f);
        folio_put(f);
        fput(pinned);
        return ret | VM_FAULT_RETRY;
      }
    }
    if (!folio_trylock(f)) {
      if (may_retry) {  // someone's I/O holds the lock: wait without mmap_lock
        if (nowait) {
          folio_put(f);
          return ret | VM_FAULT_RETRY;
        }
        file* pinned = get_file(filp);
        mmap_read_unlock(mm);
        TEST_SYNC_POINT(sp::kFaultRetryDropped);
        folio_wait_locked(f);
        folio_put(f);
        fput(pinned);
        return ret | VM_FAULT_RETRY;
      }
      folio_lock(f);
    }
    if (folio_mapping_read(f) != mapping) {  // truncated while we waited
      folio_unlock(f);
      folio_put(f);
      continue;
    }
    if (!PageUptodate(f)) {
      if (reread_locked(filp, mapping, f)) {
        folio_put(f);
        return VM_FAULT_SIGBUS;
      }
      ret |= VM_FAULT_MAJOR;
    }
    if (index >= size_in_pages(i_size_read(ino))) {  // truncated below us after all
      folio_unlock(f);
      folio_put(f);
      return VM_FAULT_SIGBUS;
    }
    vmf->page_ = f;
    return ret | VM_FAULT_LOCKED;
  }
}

vm_fault_t filemap_page_mkwrite(vm_fault* vmf) {
  folio* f = page_folio(vmf->page_);
  address_space* mapping = vmf->vma->vm_file->f_mapping;
  folio_lock(f);
  if (folio_mapping_read(f) != mapping) {
    folio_unlock(f);
    return VM_FAULT_NOPAGE;
  }
  folio_mark_dirty(f);
  return VM_FAULT_LOCKED;
}

const vm_operations_struct generic_file_vm_ops = {
    .name = "filemap",
    .open = nullptr,
    .close = nullptr,
    .fault = filemap_fault,
    .page_mkwrite = filemap_page_mkwrite,
};

// ---- buffered read and write ------------------------------------------------------------

ssize_t filemap_read(file* filp, char* buf, size_t count, loff_t* pos) {
  address_space* mapping = filp->f_mapping;
  inode* ino = mapping_inode(mapping);
  ssize_t done = 0;
  while (count) {
    const loff_t p = *pos;
    const pgoff_t index = static_cast<pgoff_t>(p >> PAGE_SHIFT);
    const size_t offset = static_cast<size_t>(p & ~PAGE_MASK);
    if (p >= i_size_read(ino)) break;
    folio* f = filemap_get_folio(mapping, index);
    if (!f) {
      f = start_read(filp, mapping, index);
      if (!f) continue;
      if (IS_ERR(f)) return done ? done : PTR_ERR(f);
    }
    if (!PageUptodate(f)) {
      folio_lock(f);
      if (folio_mapping_read(f) != mapping) {
        folio_unlock(f);
        folio_put(f);
        continue;
      }
      if (!PageUptodate(f) && reread_locked(filp, mapping, f)) {
        folio_put(f);
        return done ? done : -EIO;
      }
      folio_unlock(f);
    }
    // i_size after the page is uptodate: a racing truncate may have shrunk it.
    const loff_t isize = i_size_read(ino);
    if (p >= isize) {
      folio_put(f);
      break;
    }
    size_t n = PAGE_SIZE - offset;
    if (n > count) n = count;
    if (static_cast<loff_t>(n) > isize - p) n = static_cast<size_t>(isize - p);
    std::memcpy(buf, static_cast<char*>(page_address(f)) + offset, n);
    folio_mark_accessed(f);
    folio_put(f);
    buf += n;
    count -= n;
    *pos += static_cast<loff_t>(n);
    done += static_cast<ssize_t>(n);
  }
  return done;
}

ssize_t generic_perform_write(file* filp, const char* buf, size_t count, loff_t pos) {
  address_space* mapping = filp->f_mapping;
  const address_space_operations* a_ops = mapping->a_ops;
  ssize_t written = 0;
  while (count) {
    const size_t offset = static_cast<size_t>(pos & ~PAGE_MASK);
    size_t bytes = PAGE_SIZE - offset;
    if (bytes > count) bytes = count;
    page* p = nullptr;
    int status = a_ops->write_begin(filp, mapping, pos, static_cast<unsigned>(bytes), &p);
    if (status) return written ? written : status;
    std::memcpy(static_cast<char*>(page_address(p)) + offset, buf, bytes);
    status = a_ops->write_end(filp, mapping, pos, static_cast<unsigned>(bytes), static_cast<unsigned>(bytes), p);
    if (status < 0) return written ? written : status;
    buf += bytes;
    pos += static_cast<loff_t>(bytes);
    count -= bytes;
    written += static_cast<ssize_t>(bytes);
    balance_dirty_pages_ratelimited(mapping);
    cond_resched();
  }
  return written;
}

}  // namespace guplab
