// shmem.cc - the shmem object behind shared anonymous mappings.
#include "mm/shmem.h"

#include <map>

#include "base/bug.h"
#include "base/spinlock.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/page_alloc.h"
#include "mm/rmap.h"
#include "mm/swap.h"
#include "mm/userfaultfd.h"

namespace guplab {

namespace {

struct shmem_object {
  address_space mapping;  // what the pages' ->mapping points at
  Machine* machine = nullptr;
  spinlock_t lock;
  std::map<pgoff_t, page*> pages GUARDED_BY(lock);  // each holds one reference
  atomic_t refcount;                                // vmas using the object
};

bool shmem_dirty_folio(address_space*, folio* f) { return !TestSetPageDirty(f); }
const address_space_operations kShmemAops = {.dirty_folio = shmem_dirty_folio};

shmem_object* vma_shmem(const vm_area_struct* vma) { return static_cast<shmem_object*>(vma->vm_private_data); }

vm_fault_t shmem_fault(vm_fault* vmf) {
  shmem_object* obj = vma_shmem(vmf->vma);
  const pgoff_t idx = vmf->pgoff;
  bool minor = false;
  {
    SpinGuard g(&obj->lock);
    auto it = obj->pages.find(idx);
    if (it != obj->pages.end() && !userfaultfd_minor(vmf->vma)) {
      get_page(it->second);
      vmf->page_ = it->second;
      return VM_FAULT_NONE;
    }
    if (it != obj->pages.end()) minor = true;
  }
  // In the object, not mapped here: a minor fault, which the handler resolves.
  if (minor) return handle_userfault(vmf, VM_UFFD_MINOR);  // may drop mmap_lock
  page* p = alloc_pages_on(obj->machine, gfp_t::GFP_HIGHUSER_MOVABLE | gfp_t::__GFP_ZERO, 0);
  if (!p) return VM_FAULT_OOM;
  __SetPageSwapBacked(p);
  __SetPageUptodate(p);
  p->index = idx;
  folio_mapping_write(p, &obj->mapping);
  page_ref_inc(p);  // one for the object, one for the caller
  page* found = nullptr;
  {
    SpinGuard g(&obj->lock);
    auto [it, inserted] = obj->pages.emplace(idx, p);
    if (!inserted) {
      found = it->second;
      get_page(found);
    }
  }
  if (found) {  // another fault of this offset won; ours was never visible
    folio_mapping_write(p, nullptr);
    page_ref_dec(p);
    put_page(p);
    vmf->page_ = found;
    return VM_FAULT_NONE;
  }
  folio_add_lru(page_folio(p));
  obj->machine->vmstat().inc(NR_FILE_PAGES);
  vmf->page_ = p;
  return VM_FAULT_NONE;
}

void shmem_open(vm_area_struct* vma) { atomic_inc(&vma_shmem(vma)->refcount); }

void shmem_close(vm_area_struct* vma) {
  shmem_object* obj = vma_shmem(vma);
  if (!atomic_dec_and_test(&obj->refcount)) return;
  std::map<pgoff_t, page*> pages;
  {
    SpinGuard g(&obj->lock);
    pages.swap(obj->pages);
  }
  for (auto& [idx, p] : pages) {
    WARN_ON(page_mapcount(p) != 0);
    folio_mapping_write(p, nullptr);  // as truncate: a pinned page outlives the object
    obj->machine->vmstat().mod(NR_FILE_PAGES, -1);
    put_page(p);
  }
  delete obj;
}

const vm_operations_struct kShmemAnonVmOps = {
    .name = "shmem",
    .open = shmem_open,
    .close = shmem_close,
    .fault = shmem_fault,
    .page_mkwrite = nullptr,
};

}  // namespace

int shmem_zero_setup(vm_area_struct* vma) {
  auto* obj = new shmem_object;
  obj->mapping.a_ops = &kShmemAops;
  obj->mapping.host = obj;
  obj->machine = mm_machine(vma->vm_mm);
  spin_lock_init(&obj->lock, "shmem->lock");
  atomic_set(&obj->refcount, 1);
  vma->vm_ops = &kShmemAnonVmOps;
  vma->vm_private_data = obj;
  vma->vm_pgoff = 0;
  return 0;
}

bool vma_is_shmem(const vm_area_struct* vma) { return vma->vm_ops == &kShmemAnonVmOps; }

page* shmem_find_page(const vm_area_struct* vma, pgoff_t pgoff) {
  shmem_object* obj = vma_shmem(vma);
  SpinGuard g(&obj->lock);
  auto it = obj->pages.find(pgoff);
  if (it == obj->pages.end()) return nullptr;
  get_page(it->second);
  return it->second;
}

bool shmem_mapping(const address_space* mapping) { return mapping && mapping->a_ops == &kShmemAops; }

unsigned long shmem_nr_pages(const vm_area_struct* vma) {
  shmem_object* obj = vma_shmem(vma);
  SpinGuard g(&obj->lock);
  return obj->pages.size();
}

}  // namespace guplab
