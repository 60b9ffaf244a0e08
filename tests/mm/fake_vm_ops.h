// fake_vm_ops.h - a tiny file backing for tests of the fault plumbing, until the
// filesystem exists: a page per offset (pattern-filled), ->fault, ->page_mkwrite,
// ->open/->close counting, and the FAULT_FLAG_ALLOW_RETRY protocol.
//
// With retry_first set, ->fault on a first try that allows retry (FAULT_FLAG_ALLOW_RETRY
// without FAULT_FLAG_TRIED) drops mmap_lock and returns VM_FAULT_RETRY, as a filesystem
// waiting for I/O does (seed 001); the retry (FAULT_FLAG_TRIED) succeeds and reports a
// major fault. This is what get_user_pages_locked() is tested against.
//
// Usage: FakeFile f(machine); vm_mmap_backed(mm, 0, len, prot, MAP_SHARED, f.backing(), 0);
// release the mm before the FakeFile goes.
#pragma once
#include <atomic>
#include <cstring>
#include <map>

#include "base/spinlock.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/swap.h"

namespace guplab::test {

class FakeFile {
 public:
  explicit FakeFile(Machine* m, pgoff_t size_pages = 1024) : m_(m), size_(size_pages) {
    spin_lock_init(&lock_, "fakefile");
    mapping_.a_ops = &kAops;
    mapping_.host = this;
  }
  ~FakeFile() {
    std::map<pgoff_t, page*> pages;
    {
      SpinGuard g(&lock_);
      pages.swap(pages_);
    }
    for (auto& [idx, p] : pages) {
      folio_mapping_write(p, nullptr);
      m_->vmstat().mod(NR_FILE_PAGES, -1);
      put_page(p);
    }
  }

  /** backing() - for vm_mmap_backed(); @writable false is a file opened read-only. */
  mmap_backing backing(bool writable = true, bool with_mkwrite = true) {
    return mmap_backing{with_mkwrite ? &kOps : &kOpsNoMkwrite, this, writable};
  }
  /** pattern() - the byte every byte of page @idx starts as. */
  static uint8_t pattern(pgoff_t idx) { return static_cast<uint8_t>(0xa0 + (idx & 0x1f)); }
  page* cached(pgoff_t idx) {
    SpinGuard g(&lock_);
    auto it = pages_.find(idx);
    return it == pages_.end() ? nullptr : it->second;
  }

  bool retry_first = false;                       // see the header comment
  vm_fault_t mkwrite_result = VM_FAULT_NONE;      // e.g. VM_FAULT_SIGBUS
  std::atomic<int> faults{0}, retries{0}, mkwrites{0}, opens{0}, closes{0}, dirtied{0};
  std::atomic<bool> saw_lock_held_on_retry{false};

 private:
  static FakeFile* of(const vm_area_struct* vma) { return static_cast<FakeFile*>(vma->vm_private_data); }

  // mmap_lock is released here on the retry path: the lock is handed back to the
  // fault's caller through VM_FAULT_RETRY, which the analysis cannot follow.
  static vm_fault_t fault(vm_fault* vmf) NO_THREAD_SAFETY_ANALYSIS {
    FakeFile* f = of(vmf->vma);
    f->faults++;
    if (f->retry_first && any(vmf->flags, FAULT_FLAG_ALLOW_RETRY) && !any(vmf->flags, FAULT_FLAG_TRIED)) {
      f->retries++;
      mm_struct* mm = vmf->vma->vm_mm;
      f->saw_lock_held_on_retry = rwsem_is_locked(&mm->mmap_lock);
      // RETRY_NOWAIT (FOLL_NOWAIT): the I/O would have to be waited for, so report
      // that without waiting and without giving up mmap_lock.
      if (any(vmf->flags, FAULT_FLAG_RETRY_NOWAIT)) return VM_FAULT_RETRY;
      mmap_read_unlock(mm);  // "waiting for I/O"; the vma may be gone after this
      return VM_FAULT_RETRY;
    }
    if (vmf->pgoff >= f->size_) return VM_FAULT_SIGBUS;
    page* p = f->get(vmf->pgoff);
    if (!p) return VM_FAULT_OOM;
    vmf->page_ = p;
    return any(vmf->flags, FAULT_FLAG_TRIED) ? VM_FAULT_MAJOR : VM_FAULT_NONE;
  }
  static vm_fault_t page_mkwrite(vm_fault* vmf) {
    FakeFile* f = of(vmf->vma);
    f->mkwrites++;
    if (f->mkwrite_result != VM_FAULT_NONE) return f->mkwrite_result;
    lock_page(vmf->page_);
    return VM_FAULT_LOCKED;
  }
  static void open(vm_area_struct* vma) { of(vma)->opens++; }
  static void close(vm_area_struct* vma) { of(vma)->closes++; }
  static bool dirty_folio(address_space* mapping, folio* fo) {
    static_cast<FakeFile*>(mapping->host)->dirtied++;
    return !TestSetPageDirty(fo);
  }

  // The page cache of this file: the page at @idx with a reference for the caller.
  page* get(pgoff_t idx) {
    {
      SpinGuard g(&lock_);
      auto it = pages_.find(idx);
      if (it != pages_.end()) {
        get_page(it->second);
        return it->second;
      }
    }
    page* p = alloc_pages_on(m_, gfp_t::GFP_HIGHUSER_MOVABLE, 0);
    if (!p) return nullptr;
    std::memset(page_address(p), pattern(idx), PAGE_SIZE);
    __SetPageUptodate(p);
    p->index = idx;
    folio_mapping_write(p, &mapping_);
    page_ref_inc(p);
    page* found = nullptr;
    {
      SpinGuard g(&lock_);
      auto [it, inserted] = pages_.emplace(idx, p);
      if (!inserted) {
        found = it->second;
        get_page(found);
      }
    }
    if (found) {
      folio_mapping_write(p, nullptr);
      page_ref_dec(p);
      put_page(p);
      return found;
    }
    folio_add_lru(page_folio(p));
    m_->vmstat().inc(NR_FILE_PAGES);
    return p;
  }

  static constexpr address_space_operations kAops = {.dirty_folio = dirty_folio};
  static constexpr vm_operations_struct kOps = {
      .name = "fakefile", .open = open, .close = close, .fault = fault, .page_mkwrite = page_mkwrite};
  static constexpr vm_operations_struct kOpsNoMkwrite = {
      .name = "fakefile-nomkwrite", .open = open, .close = close, .fault = fault, .page_mkwrite = nullptr};

  Machine* m_;
  pgoff_t size_;
  address_space mapping_;
  spinlock_t lock_;
  std::map<pgoff_t, page*> pages_ GUARDED_BY(lock_);
};

}  // namespace guplab::test
