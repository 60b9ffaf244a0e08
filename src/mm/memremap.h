// memremap.h - ZONE_DEVICE pages as fs-DAX uses them (include/linux/memremap.h, mm/memremap.c):
// the frames of a pmem-like device (block/pmem.h), with a struct page each, that are
// never in the buddy allocator and whose blocks are mapped straight into user space.
//
// The model follows upstream since Linux 6.15 for their reference count: an fs-DAX page
// that nobody maps or pins has _refcount 0 ("idle"); every pte that maps it and every
// GUP reference or pin adds to it, exactly as for any page; when the last one goes,
// __folio_put() hands it here (free_zone_device_folio()) instead of freeing it, and
// whoever waits for it to go idle (dax_layout_busy_page()'s callers, fs/dax.h) is woken.
// A page is bound to the file it backs (page->mapping, page->index) by the DAX fault
// that first maps it, and unbound when its block is freed (dax_disassociate_page()).
//
// Threading: the predicates read immutable flags or atomics; free_zone_device_folio()
// may run in any context (a device's completion task included); the waits sleep.
#pragma once
#include "base/wait.h"
#include "mm/mm_types.h"
#include "mm/page-flags.h"
#include "mm/page_ref.h"

namespace guplab {

struct vm_area_struct;
struct address_space;

/** is_zone_device_page() - is @p a ZONE_DEVICE page (a pmem frame)? */
inline bool is_zone_device_page(const page* p) { return PageZoneDevice(p); }
inline bool folio_is_zone_device(const folio* f) { return PageZoneDevice(f); }
/** is_fsdax_page() - is @p a frame of a device that fs-DAX maps (the only ZONE_DEVICE kind here)? */
inline bool is_fsdax_page(const page* p) { return is_zone_device_page(p); }
inline bool folio_is_fsdax(const folio* f) { return folio_is_zone_device(f); }

/** dax_page_is_idle() - is fs-DAX page @p neither mapped nor referenced (refcount 0)? */
inline bool dax_page_is_idle(const page* p) { return page_ref_count(p) == 0; }

/**
 * vma_is_dax() - does @vma map a DAX file (its inode has S_DAX)?
 * vma_is_fsdax() - ... of a filesystem (not device-DAX, which the model does not have):
 * what FOLL_LONGTERM refuses (mm/gup.cc check_vma_flags()).
 */
bool vma_is_dax(const vm_area_struct* vma);
bool vma_is_fsdax(const vm_area_struct* vma);

/**
 * free_zone_device_folio() - the last reference of ZONE_DEVICE folio @f went (from
 * __folio_put()): the page stays with its device, loses its transient flags, and the
 * tasks waiting for it to go idle are woken. Any context.
 */
void free_zone_device_folio(folio* f);

/**
 * dax_wait_page_idle() - sleep until fs-DAX page @p is idle, calling @unlock before the
 * first sleep and @relock after the wake (ext4_break_layouts() drops invalidate_lock
 * while it waits, as upstream's ext4_wait_dax_page()). Returns at once if idle.
 * REQUIRES: a task of @p's machine; process context.
 */
template <typename Unlock, typename Relock>
void dax_wait_page_idle(page* p, Unlock unlock, Relock relock);

/** dax_idle_waitqueue() - the queue waiters on @p's idleness sleep on (keyed by its _refcount). */
wait_queue_head_t* dax_idle_waitqueue(const page* p);

/**
 * dax_associate_page() - bind fs-DAX page @p to (@mapping, @index) at its first mapping;
 * dax_disassociate_page() - unbind it when its block is freed. REQUIRES: the caller holds
 * the file's invalidate_lock (shared to associate, exclusive to disassociate); to
 * disassociate, @p idle.
 */
void dax_associate_page(page* p, address_space* mapping, pgoff_t index);
void dax_disassociate_page(page* p);

template <typename Unlock, typename Relock>
void dax_wait_page_idle(page* p, Unlock unlock, Relock relock) {
  if (dax_page_is_idle(p)) return;
  unlock();
  wait_event(dax_idle_waitqueue(p), [p] { return dax_page_is_idle(p); });
  relock();
}

}  // namespace guplab
