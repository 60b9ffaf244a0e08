// memremap.cc - ZONE_DEVICE (fs-DAX) pages: their last put, idleness waits, and the
// vma predicates GUP asks.
#include "mm/memremap.h"

#include "fs/file.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "mm/memory_model.h"
#include "mm/vma.h"

namespace guplab {

bool vma_is_dax(const vm_area_struct* vma) {
  return vma->vm_file && file_inode(vma->vm_file) && IS_DAX(file_inode(vma->vm_file));
}

bool vma_is_fsdax(const vm_area_struct* vma) {
  // Device-DAX (a character device mapped directly) would be DAX and not fs-DAX; the
  // model has no such device, so every DAX vma is a filesystem's.
  return vma_is_dax(vma);
}

wait_queue_head_t* dax_idle_waitqueue(const page* p) {
  return page_machine(p)->bit_wait_table()->lookup(&p->_refcount, 0);
}

void free_zone_device_folio(folio* f) {
  f->flags.fetch_and(~((1ull << PG_dirty) | (1ull << PG_referenced) | (1ull << PG_pin_waiters)),
                     std::memory_order_relaxed);
  wake_up(dax_idle_waitqueue(f));
}

void dax_associate_page(page* p, address_space* mapping, pgoff_t index) {
  if (__atomic_load_n(&p->mapping, __ATOMIC_ACQUIRE) == mapping) return;
  p->index = index;
  __atomic_store_n(&p->mapping, mapping, __ATOMIC_RELEASE);
}

void dax_disassociate_page(page* p) {
  __atomic_store_n(&p->mapping, static_cast<address_space*>(nullptr), __ATOMIC_RELEASE);
  p->index = 0;
}

}  // namespace guplab
