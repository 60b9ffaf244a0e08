// dax.cc - fs-DAX: faults that map device frames, read/write through them, and the
// layout breaking that truncate waits in.
#include "fs/dax.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/bug.h"
#include "base/errno.h"
#include "block/blkdev.h"
#include "block/pmem.h"
#include "fs/file.h"
#include "machine/machine.h"
#include "machine/sync_point.h"
#include "machine/sync_point_names.h"
#include "machine/trace_point.h"
#include "mm/internal.h"
#include "mm/memremap.h"
#include "mm/mm_struct.h"
#include "mm/rmap.h"
#include "mm/truncate.h"

namespace guplab {

namespace {

dax_device* inode_dax(inode* ino) { return fs_dax_get_by_bdev(ino->i_sb->s_bdev); }

page* dax_page(const dax_device* dax, pgoff_t dev_pgoff) {
  unsigned long pfn = 0;
  if (dax_direct_access(dax, dev_pgoff, nullptr, &pfn) <= 0) return nullptr;
  return dax->machine->mem().pfn_to_page(pfn);
}

// The CPU copies to or from a frame a device may be writing meanwhile (DMA into a pinned
// DAX page): relaxed byte accesses, the defined form of that race.
void copy_from_frame(char* dst, const char* frame, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = __atomic_load_n(&frame[i], __ATOMIC_RELAXED);
}
void copy_to_frame(char* frame, const char* src, size_t n) {
  for (size_t i = 0; i < n; i++) __atomic_store_n(&frame[i], src[i], __ATOMIC_RELAXED);
}

pgoff_t size_pages(loff_t size) { return static_cast<pgoff_t>((size + static_cast<loff_t>(PAGE_SIZE) - 1) >> PAGE_SHIFT); }

}  // namespace

vm_fault_t dax_iomap_fault(vm_fault* vmf, const dax_iomap_ops* ops) {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  inode* ino = file_inode(vma->vm_file);
  // A write fault of a private mapping maps the frame read-only here; the retried
  // access then breaks COW (do_wp_page()) and never writes the file.
  const bool write = any(vmf->flags, FAULT_FLAG_WRITE) && any(vma->vm_flags, VM_SHARED);
  if (vmf->pgoff >= size_pages(i_size_read(ino))) return VM_FAULT_SIGBUS;
  pgoff_t dev_pgoff = 0;
  bool mapped = false;
  // A hole is allocated even on a read (departure: no zero page for DAX holes).
  if (int err = ops->iomap_begin(ino, vmf->pgoff, true, &dev_pgoff, &mapped)) return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
  page* p = mapped ? dax_page(inode_dax(ino), dev_pgoff) : nullptr;
  if (!p || WARN_ON_ONCE(!is_fsdax_page(p))) return VM_FAULT_SIGBUS;
  pte_t entry = pte_mkdevmap(pte_mkyoung(mk_pte(p, vma->vm_page_prot)));
  if (write) entry = maybe_mkwrite(pte_mkdirty(entry), vma);
  bool installed = false;
  {
    SpinGuard g(&mm->page_table_lock);
    if (pte_none(ptep_get(vmf->pte))) {
      dax_associate_page(p, ino->i_mapping, vmf->pgoff);
      page_ref_inc(p);  // the mapping's reference (an idle DAX page has none)
      page_add_file_rmap(p, vma, false);
      add_mm_rss(mm, false, 1);
      set_pte(vmf->pte, entry);
      installed = true;
    }
  }
  trace_point(mm_machine(mm), "dax", "dax_iomap_fault", "ino={} pgoff={} pfn={}{}{}", ino->i_ino, vmf->pgoff,
              page_to_pfn(p), write ? " write" : "", installed ? "" : " raced");
  return VM_FAULT_NOPAGE;
}

ssize_t dax_iomap_rw(file* filp, char* buf, size_t count, loff_t* pos, bool write, const dax_iomap_ops* ops) {
  inode* ino = file_inode(filp);
  dax_device* dax = inode_dax(ino);
  loff_t p = *pos;
  if (p < 0) return -EINVAL;
  const loff_t size = i_size_read(ino);
  if (!write) count = p >= size ? 0 : std::min<size_t>(count, static_cast<size_t>(size - p));
  size_t done = 0;
  int err = 0;
  while (done < count) {
    const pgoff_t index = static_cast<pgoff_t>(p >> PAGE_SHIFT);
    const size_t off = static_cast<size_t>(p & ~PAGE_MASK);
    const size_t n = std::min(count - done, PAGE_SIZE - off);
    pgoff_t dev_pgoff = 0;
    bool mapped = false;
    if ((err = ops->iomap_begin(ino, index, write, &dev_pgoff, &mapped))) break;
    page* pg = mapped ? dax_page(dax, dev_pgoff) : nullptr;
    if (mapped && !pg) {
      err = -EIO;
      break;
    }
    char* frame = pg ? static_cast<char*>(page_address(pg)) : nullptr;
    if (write)
      copy_to_frame(frame + off, buf + done, n);
    else if (frame)
      copy_from_frame(buf + done, frame + off, n);
    else
      std::fill(buf + done, buf + done + n, 0);  // a hole
    done += n;
    p += static_cast<loff_t>(n);
  }
  if (write && p > i_size_read(ino)) i_size_write(ino, p);
  *pos = p;
  return done ? static_cast<ssize_t>(done) : err;
}

page* dax_layout_busy_page_range(address_space* mapping, loff_t start, loff_t end, const dax_iomap_ops* ops) {
  inode* ino = mapping_inode(mapping);
  if (!IS_DAX(ino)) return nullptr;
  // Nothing can map the range again while the caller holds invalidate_lock exclusive;
  // whatever references remain after the unmap are GUP's. The caller is about to free
  // blocks: the unmap says so (seed 003's MMU_NOTIFY_TRUNCATE), so that a pinner that
  // listens can let go before the busy check rather than be waited for.
  unmap_mapping_range(mapping, start, end == LLONG_MAX ? 0 : end - start + 1, false, MMU_NOTIFY_TRUNCATE);
  dax_device* dax = inode_dax(ino);
  const pgoff_t first = static_cast<pgoff_t>(start >> PAGE_SHIFT);
  const pgoff_t last = std::min<pgoff_t>(static_cast<pgoff_t>(end >> PAGE_SHIFT), size_pages(i_size_read(ino)) - 1);
  for (pgoff_t index = first; i_size_read(ino) > 0 && index <= last; index++) {
    pgoff_t dev_pgoff = 0;
    bool mapped = false;
    if (ops->iomap_begin(ino, index, false, &dev_pgoff, &mapped) || !mapped) continue;
    page* p = dax_page(dax, dev_pgoff);
    if (p && !dax_page_is_idle(p)) return p;
  }
  return nullptr;
}

page* dax_layout_busy_page(address_space* mapping, const dax_iomap_ops* ops) {
  return dax_layout_busy_page_range(mapping, 0, LLONG_MAX, ops);
}

int dax_break_layouts(inode* ino, const dax_iomap_ops* ops) NO_THREAD_SAFETY_ANALYSIS {
  address_space* mapping = ino->i_mapping;
  int waits = 0;
  while (page* p = dax_layout_busy_page(mapping, ops)) {
    Machine* m = page_machine(p);
    trace_point(m, "dax", "dax_layout_busy_page", "ino={} pfn={} refcount={}: truncate waits", ino->i_ino,
                page_to_pfn(p), page_ref_count(p));
    TEST_SYNC_POINT(sp::kDaxBreakLayoutsWait);
    waits++;
    dax_wait_page_idle(
        p, [mapping]() NO_THREAD_SAFETY_ANALYSIS { filemap_invalidate_unlock(mapping); },
        [mapping]() NO_THREAD_SAFETY_ANALYSIS { filemap_invalidate_lock(mapping); });
  }
  return waits;
}

int dax_zero_range(inode* ino, loff_t pos, loff_t len, const dax_iomap_ops* ops) {
  dax_device* dax = inode_dax(ino);
  while (len > 0) {
    const pgoff_t index = static_cast<pgoff_t>(pos >> PAGE_SHIFT);
    const size_t off = static_cast<size_t>(pos & ~PAGE_MASK);
    const size_t n = std::min<size_t>(static_cast<size_t>(len), PAGE_SIZE - off);
    pgoff_t dev_pgoff = 0;
    bool mapped = false;
    if (int err = ops->iomap_begin(ino, index, false, &dev_pgoff, &mapped)) return err;
    if (mapped) {
      page* p = dax_page(dax, dev_pgoff);
      if (!p) return -EIO;
      char* frame = static_cast<char*>(page_address(p));
      for (size_t i = 0; i < n; i++) __atomic_store_n(&frame[off + i], char{0}, __ATOMIC_RELAXED);
    }
    pos += static_cast<loff_t>(n);
    len -= static_cast<loff_t>(n);
  }
  return 0;
}

void dax_disassociate_range(inode* ino, pgoff_t first, pgoff_t last, const dax_iomap_ops* ops) {
  dax_device* dax = inode_dax(ino);
  for (pgoff_t index = first; index <= last; index++) {
    pgoff_t dev_pgoff = 0;
    bool mapped = false;
    if (ops->iomap_begin(ino, index, false, &dev_pgoff, &mapped) || !mapped) continue;
    page* p = dax_page(dax, dev_pgoff);
    if (!p) continue;
    WARN_ON_ONCE(!dax_page_is_idle(p));
    dax_disassociate_page(p);
  }
}

}  // namespace guplab
