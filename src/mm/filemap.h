// filemap.h - the page cache (mm/filemap.c): finding, adding and removing a file's
// pages, file-backed faults, and the buffered read and write loops filesystems use.
//
// A page in the page cache: page->mapping is its address_space and page->index its
// offset in pages; the cache holds one reference (put when it leaves); it is on the
// file LRU; it is counted in NR_FILE_PAGES (and NR_FILE_DIRTY while dirty). It joins
// locked and leaves locked, so a holder of the page lock who sees page->mapping set
// knows the page is in the cache. Lookups are speculative: the entry is read without a
// lock, a reference is taken only if the page is not being freed
// (get_page_unless_zero()), and the slot is read again; if the page left meanwhile the
// reference is dropped and the lookup retried. Reclaim removes a page only after
// freezing its reference count to zero, so it cannot remove a page anyone else holds.
//
// filemap_fault() reads a missing page from the filesystem (a_ops->read_folio). If the
// fault allows retry (FAULT_FLAG_ALLOW_RETRY without FAULT_FLAG_TRIED), it releases
// mmap_lock while the read is in flight and returns VM_FAULT_RETRY (seed 001; the sync
// point "fault:retry:dropped" marks the moment), and the retry finds the page cached.
//
// Threading: any task. Each function says what it needs held.
#pragma once
#include "base/flags.h"
#include "fs/fs.h"
#include "mm/gfp.h"
#include "mm/mm_types.h"
#include "mm/vma.h"

namespace guplab {

/** fgf_t - what __filemap_get_folio() does beyond looking up. */
enum class fgf_t : unsigned {
  FGP_NONE = 0,
  FGP_ACCESSED = 1u << 0,  // mark the page accessed
  FGP_LOCK = 1u << 1,      // return it locked (and still in the mapping)
  FGP_CREAT = 1u << 2,     // add a new page if there is none (implies FGP_LOCK for the new page)
  FGP_NOWAIT = 1u << 3,    // with FGP_LOCK: -EAGAIN rather than sleep on the lock
};
GUPLAB_ENUM_FLAGS(fgf_t)
using enum fgf_t;

/** folio_batch - a few referenced folios found by one lookup. */
struct folio_batch {
  static constexpr unsigned kSize = 15;
  unsigned nr = 0;
  folio* folios[kSize] = {};
};
/** folio_batch_release() - put every folio of @fb and empty it. */
void folio_batch_release(folio_batch* fb);

/**
 * filemap_alloc_folio() - a page for the page cache of machine @m (reclaiming clean
 * page cache if memory is short). Returns it with one reference, or nullptr.
 */
folio* filemap_alloc_folio(Machine* m, gfp_t gfp);

/**
 * filemap_add_folio() - add new @f to @mapping at @index, locked: sets mapping and
 * index, takes the cache's reference, puts it on the LRU, counts NR_FILE_PAGES.
 * Returns 0 (@f is locked and in the cache), or -EEXIST (another page is there; @f is
 * untouched and unlocked). REQUIRES: @f is new (not visible to anyone, not locked).
 */
int filemap_add_folio(address_space* mapping, folio* f, pgoff_t index, gfp_t gfp);

/**
 * filemap_get_folio() - the page at @index with a reference, or nullptr. Speculative
 * and lockless; the page may be locked, !uptodate, or (once the caller looks) gone
 * from the cache again: callers that need it to stay lock it and re-check ->mapping.
 */
folio* filemap_get_folio(address_space* mapping, pgoff_t index);

/**
 * __filemap_get_folio() - filemap_get_folio() plus @fgp (lock, create, accessed).
 * Returns the referenced page, or ERR_PTR(-ENOENT) (none, and not FGP_CREAT),
 * ERR_PTR(-ENOMEM), or ERR_PTR(-EAGAIN) (FGP_NOWAIT and the lock is held).
 * REQUIRES: with FGP_LOCK, the caller holds no page lock of @mapping.
 */
folio* __filemap_get_folio(address_space* mapping, pgoff_t index, fgf_t fgp, gfp_t gfp);

/**
 * filemap_remove_folio() - take locked @f out of its mapping (truncate, invalidate):
 * mapping cleared, NR_FILE_PAGES (and NR_FILE_DIRTY if still dirty) uncounted, the
 * cache's reference dropped. REQUIRES: @f locked, in a mapping.
 */
void filemap_remove_folio(folio* f);
/**
 * __filemap_remove_folio() - as filemap_remove_folio() but keeps the cache's reference
 * for the caller (reclaim, which has frozen the count). REQUIRES: i_pages.xa_lock held.
 */
void __filemap_remove_folio(address_space* mapping, folio* f) REQUIRES(mapping->i_pages.xa_lock);

/**
 * filemap_get_folios() - up to a batch of referenced pages with index in [*@start,
 * @end]; *@start moves past the last one. Returns how many. Lockless.
 */
unsigned filemap_get_folios(address_space* mapping, pgoff_t* start, pgoff_t end, folio_batch* fb);
/** filemap_get_folios_tag() - as filemap_get_folios(), only pages tagged @tag. */
unsigned filemap_get_folios_tag(address_space* mapping, pgoff_t* start, pgoff_t end, xa_mark_t tag,
                                folio_batch* fb);

/** folio_wait_locked() - sleep until @f is unlocked (e.g. its read has completed). */
void folio_wait_locked(folio* f);

/**
 * filemap_fault() - vm_ops->fault of a file mapping: vmf->page_ gets the page at
 * vmf->pgoff, locked and referenced (VM_FAULT_LOCKED; VM_FAULT_MAJOR if it was read).
 * Beyond EOF: VM_FAULT_SIGBUS; read error: VM_FAULT_SIGBUS; no memory: VM_FAULT_OOM.
 * With FAULT_FLAG_ALLOW_RETRY (first try, not RETRY_NOWAIT) and a read to wait for,
 * mmap_lock is released and VM_FAULT_RETRY returned (see the header comment).
 * REQUIRES: mmap_lock held for read; vmf->vma->vm_file set.
 */
vm_fault_t filemap_fault(vm_fault* vmf);
/**
 * filemap_page_mkwrite() - generic vm_ops->page_mkwrite: lock the page, check it is
 * still in the file, dirty it. Returns VM_FAULT_LOCKED or VM_FAULT_NOPAGE.
 */
vm_fault_t filemap_page_mkwrite(vm_fault* vmf);
/** generic_file_vm_ops - filemap_fault + filemap_page_mkwrite. */
extern const vm_operations_struct generic_file_vm_ops;

/**
 * filemap_dirty_folio() - a_ops->dirty_folio for plain page-cache pages: set PG_dirty;
 * if it was clean and @f is still in @mapping, count NR_FILE_DIRTY, tag it DIRTY and
 * mark the inode I_DIRTY_PAGES. Returns true if it was clean. Any context that keeps
 * @f alive (no sleeping).
 */
bool filemap_dirty_folio(address_space* mapping, folio* f);

/**
 * filemap_read() - copy up to @count bytes at *@pos of @filp into @buf through the page
 * cache, reading what is missing. Returns bytes copied (0 at EOF) or -errno (-EIO).
 */
ssize_t filemap_read(file* filp, char* buf, size_t count, loff_t* pos);
/**
 * generic_perform_write() - copy @count bytes from @buf to @pos of @filp through the
 * page cache (a_ops->write_begin / write_end), throttled by the dirty limit.
 * Returns bytes written or -errno. REQUIRES: i_rwsem held for write.
 */
ssize_t generic_perform_write(file* filp, const char* buf, size_t count, loff_t pos);

/** filemap_nr_pages() - pages in @mapping's cache (mapping->nrpages). */
inline unsigned long filemap_nr_pages(const address_space* mapping) {
  return mapping->nrpages.load(std::memory_order_relaxed);
}

}  // namespace guplab
