// shmem.h - what backs MAP_SHARED|MAP_ANONYMOUS: a small in-memory object holding one
// page per offset (the kernel's shmem_zero_setup() and its shmem file, cut down).
//
// All vmas created from one shared anonymous mmap() (by split or fork) reference the
// same object, so a page first touched by the parent after fork is still the child's
// page, and MADV_DONTNEED only drops mappings: the data stays in the object. Pages are
// swap-backed, on the LRU, not anonymous (their mapping is the object's
// address_space), and counted in NR_FILE_PAGES while the object holds them. The object
// goes, dropping its references, when its last vma is closed; a page still pinned then
// stays allocated (mapping cleared, as after truncate) until its last reference.
//
// A vma registered with userfaultfd for MINOR faults (mm/userfaultfd.h) hands a fault
// on a page the object already holds, but the vma does not map, to the handler
// (handle_userfault(VM_UFFD_MINOR)), which maps it with UFFDIO_CONTINUE; a page the
// object does not hold is allocated as usual.
//
// Threading: the page index is guarded by the object's lock; faults run under the
// vma's mmap_lock for read; open/close under mmap_lock for write.
#pragma once
#include "mm/vma.h"

namespace guplab {

struct address_space;

/**
 * shmem_zero_setup() - back the shared anonymous @vma by a new shmem object (sets
 * vm_ops and vm_private_data). Returns 0.
 */
int shmem_zero_setup(vm_area_struct* vma);

/** vma_is_shmem() - is @vma backed by a shmem object? */
bool vma_is_shmem(const vm_area_struct* vma);

/**
 * shmem_find_page() - the page the shmem object behind @vma holds at @pgoff, with a
 * reference for the caller, or nullptr if it holds none (shmem_get_folio(SGP_NOALLOC)).
 */
struct page* shmem_find_page(const vm_area_struct* vma, pgoff_t pgoff);
/** shmem_mapping() - is @mapping a shmem object's (the pages' ->mapping)? */
bool shmem_mapping(const address_space* mapping);

/** shmem_nr_pages() - pages the shmem object behind @vma holds (tests, stats). */
unsigned long shmem_nr_pages(const vm_area_struct* vma);

}  // namespace guplab
