// mmap.cc - the vma tree: lookup, mmap, munmap, split, populate, exit.
#include "mm/mmap.h"

#include <vector>

#include "base/bug.h"
#include "base/errno.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "mm/huge_memory.h"
#include "mm/hugetlb.h"
#include "mm/internal.h"
#include "mm/memory.h"
#include "mm/mmu_notifier.h"
#include "mm/pgalloc.h"
#include "mm/rmap.h"
#include "mm/shmem.h"
#include "mm/swap.h"
#include "mm/userfaultfd.h"

namespace guplab {

namespace {

constexpr unsigned long kMmapMinAddr = 0x10000;  // vm.mmap_min_addr's default
constexpr int kProtAll = PROT_READ | PROT_WRITE | PROT_EXEC;
constexpr int kMapTypeMask = 0x0f;  // MAP_TYPE

inline unsigned long page_align(unsigned long len) { return (len + PAGE_SIZE - 1) & PAGE_MASK; }

void remove_vma(vm_area_struct* vma) {
  if (vma->vm_ops && vma->vm_ops->close) vma->vm_ops->close(vma);
  if (vma->vm_file) fput(vma->vm_file);
  vm_area_free(vma);
}

// Zap, unlink from rmap, free emptied tables, close: what munmap and exit share.
void unmap_region(mm_struct* mm, std::vector<vm_area_struct*>& vmas, unsigned long start, unsigned long end,
                  bool fullmm) REQUIRES(mm->mmap_lock) {
  mmu_gather tlb;
  tlb_gather_mmu(&tlb, mm, fullmm);
  if (!vmas.empty()) {  // unmap_vmas(): one UNMAP invalidation over the region
    MmuNotifierScope notify(MMU_NOTIFY_UNMAP, mm, vmas.front()->vm_start, vmas.back()->vm_end);
    for (vm_area_struct* vma : vmas) unmap_page_range(&tlb, vma, vma->vm_start, vma->vm_end);
  }
  // Out of rmap before the tables go: a walker can no longer reach them through us.
  for (vm_area_struct* vma : vmas) {
    unlink_anon_vmas(vma);
    unlink_file_vma(vma);
  }
  free_pgtables(&tlb, mm, start, end);
  tlb_finish_mmu(&tlb);
  for (vm_area_struct* vma : vmas) remove_vma(vma);
}

// A free range of @len for a new mapping: the hint if it fits, else top-down from
// mmap_base, 2 MiB-aligned for THP-sized anonymous mappings.
long get_unmapped_area(mm_struct* mm, unsigned long addr, unsigned long len, unsigned long align)
    REQUIRES(mm->mmap_lock) {
  if (len > TASK_SIZE - kMmapMinAddr) return -ENOMEM;
  if (addr) {
    addr = page_align(addr);
    if (addr >= kMmapMinAddr && addr <= TASK_SIZE - len && !find_vma_intersection(mm, addr, addr + len))
      return static_cast<long>(addr);
  }
  unsigned long high = mm->mmap_base;
  for (;;) {
    if (high < len + kMmapMinAddr) return -ENOMEM;
    unsigned long cand = (high - len) & ~(align - 1);
    if (cand < kMmapMinAddr) return -ENOMEM;
    vm_area_struct* vma = find_vma_intersection(mm, cand, cand + len);
    if (!vma) return static_cast<long>(cand);
    high = vma->vm_start;
  }
}

long mmap_region(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags, const mmap_backing* b,
                 pgoff_t pgoff, file* filp) {
  const int type = flags & kMapTypeMask;
  if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE && type != MAP_PRIVATE) return -EINVAL;
  const bool shared = type != MAP_PRIVATE;
  const bool anon = b == nullptr && filp == nullptr;
  if (!len) return -EINVAL;
  if (prot & ~kProtAll) return -EINVAL;
  const bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  if (fixed && (addr & ~PAGE_MASK)) return -EINVAL;
  len = page_align(len);
  if (!len) return -ENOMEM;
  if (pgoff + (len >> PAGE_SHIFT) < pgoff) return -EOVERFLOW;
  if (fixed && (len > TASK_SIZE || addr < kMmapMinAddr || addr > TASK_SIZE - len)) return -ENOMEM;
  // MAP_HUGETLB (anonymous) or a hugetlbfs file: the length rounds up to the huge page
  // size and the pages are reserved now (mm/hugetlb.h).
  hugetlb_file* hf = nullptr;
  const bool hugetlbfs = b && b->hugetlb;
  if ((flags & MAP_HUGETLB) || hugetlbfs) {
    if (!anon && !hugetlbfs) return -EINVAL;
    if (hugetlbfs && pgoff) return -EINVAL;
    const int err = hugetlbfs ? hugetlbfs_mmap_setup(b->hugetlb, shared, flags, &len, &hf)
                              : hugetlb_file_setup(mm_machine(mm), flags, &len, &hf);
    if (err) return err;
    const unsigned long hmask = huge_page_mask(hf->h);
    if ((fixed && (addr & ~hmask)) || (fixed && (len > TASK_SIZE || addr > TASK_SIZE - len))) {
      hugetlb_file_put(hf);
      return -EINVAL;
    }
    if (!fixed) addr = (addr + ~hmask) & hmask;  // a hint is aligned up, as hugetlb_get_unmapped_area()
  }

  vm_flags_t vm_flags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYEXEC;
  const bool writable = filp ? (filp->f_mode & FMODE_WRITE) != 0 : (anon || b->writable);
  if (shared && any(calc_vm_prot_bits(prot), VM_WRITE) && !writable && hf) {
    hugetlb_file_put(hf);
    return -EACCES;
  }
  if (!shared || writable) vm_flags |= VM_MAYWRITE;
  if (shared) vm_flags |= VM_SHARED | VM_MAYSHARE;
  if (flags & MAP_LOCKED) vm_flags |= VM_LOCKED;
  if (flags & MAP_NORESERVE) vm_flags |= VM_NORESERVE;
  if (shared && any(vm_flags, VM_WRITE) && !any(vm_flags, VM_MAYWRITE)) return -EACCES;

  const MachineConfig& cfg = mm_machine(mm)->config();
  unsigned long align = (anon && !shared && cfg.thp && len >= PMD_SIZE) ? PMD_SIZE : PAGE_SIZE;
  if (hf) align = huge_page_size(hf->h);
  long ret;
  std::vector<userfaultfd_unmap_ctx> uf;  // MAP_FIXED over userfaultfd ranges: events after unlock
  {
    mmap_write_lock(mm);
    if (flags & MAP_FIXED_NOREPLACE) {
      ret = find_vma_intersection(mm, addr, addr + len) ? -EEXIST : static_cast<long>(addr);
    } else if (flags & MAP_FIXED) {
      ret = do_munmap(mm, addr, len, &uf);
      if (!ret) ret = static_cast<long>(addr);
    } else {
      ret = get_unmapped_area(mm, addr, len, align);
    }
    if (ret >= 0) {
      addr = static_cast<unsigned long>(ret);
      vm_area_struct* vma = vm_area_alloc(mm);
      vma->vm_start = addr;
      vma->vm_end = addr + len;
      vma->vm_flags = vm_flags;
      if (filp) {
        vma->vm_pgoff = pgoff;
        vma->vm_file = get_file(filp);
        int err = filp->f_op->mmap(filp, vma);
        if (err) {
          fput(filp);
          vma->vm_file = nullptr;
          vm_area_free(vma);
          vma = nullptr;
          ret = err;
        } else if (vma->vm_ops && vma->vm_ops->open) {
          vma->vm_ops->open(vma);
        }
      } else if (hf) {
        hugetlb_vma_init(vma, hf);
        hf = nullptr;
      } else if (!anon) {
        vma->vm_pgoff = pgoff;
        vma->vm_ops = b->ops;
        vma->vm_private_data = b->private_data;
        if (vma->vm_ops->open) vma->vm_ops->open(vma);
      } else if (shared) {
        shmem_zero_setup(vma);
      } else {
        vma->vm_pgoff = addr >> PAGE_SHIFT;
      }
      if (vma) {
        vma_set_page_prot(vma);
        insert_vm_struct(mm, vma);
        if (vma->vm_file) vma_link_file(vma);
      }
    }
    mmap_write_unlock(mm);
  }
  userfaultfd_unmap_complete(&uf);
  if (hf) hugetlb_file_put(hf);  // not mapped after all
  if (ret >= 0 && ((flags & MAP_POPULATE) || any(vm_flags, VM_LOCKED))) mm_populate(mm, addr, len);
  return ret;
}

}  // namespace

pgprot_t vm_get_page_prot(vm_flags_t f) {
  if (!any(f, VM_READ | VM_WRITE | VM_EXEC)) return {_PAGE_PRESENT};  // PROT_NONE: not user-accessible
  pteval_t v = _PAGE_PRESENT | _PAGE_USER;
  if (all(f, VM_WRITE | VM_SHARED)) v |= _PAGE_RW;  // private writable: read-only until COW
  return {v};
}

void vma_set_page_prot(vm_area_struct* vma) {
  pgprot_t prot = vm_get_page_prot(vma->vm_flags);
  // Write-notify: a shared mapping whose backing wants ->page_mkwrite maps read-only.
  if (any(vma->vm_flags, VM_SHARED) && vma->vm_ops && vma->vm_ops->page_mkwrite) prot.val &= ~_PAGE_RW;
  vma->vm_page_prot = prot;
}

vm_flags_t calc_vm_prot_bits(int prot) {
  vm_flags_t f = VM_NONE;
  if (prot & PROT_READ) f |= VM_READ;
  if (prot & PROT_WRITE) f |= VM_WRITE;
  if (prot & PROT_EXEC) f |= VM_EXEC;
  return f;
}

vm_area_struct* find_vma(mm_struct* mm, unsigned long addr) {
  auto it = mm->mm_mt.upper_bound(addr);
  return it == mm->mm_mt.end() ? nullptr : it->second;
}

vm_area_struct* vma_lookup(mm_struct* mm, unsigned long addr) {
  vm_area_struct* vma = find_vma(mm, addr);
  return (vma && vma->vm_start <= addr) ? vma : nullptr;
}

vm_area_struct* find_vma_intersection(mm_struct* mm, unsigned long start, unsigned long end) {
  vm_area_struct* vma = find_vma(mm, start);
  return (vma && vma->vm_start < end) ? vma : nullptr;
}

vm_area_struct* vma_next(mm_struct* mm, const vm_area_struct* vma) { return find_vma(mm, vma->vm_end); }

vm_area_struct* vm_area_alloc(mm_struct* mm) {
  auto* vma = new vm_area_struct;
  vma->vm_mm = mm;
  INIT_LIST_HEAD(&vma->anon_vma_chain);
  INIT_LIST_HEAD(&vma->shared);
  return vma;
}

vm_area_struct* vm_area_dup(const vm_area_struct* orig) {
  auto* vma = new vm_area_struct(*orig);
  INIT_LIST_HEAD(&vma->anon_vma_chain);
  INIT_LIST_HEAD(&vma->shared);
  return vma;
}

void vm_area_free(vm_area_struct* vma) {
  WARN_ON(!list_empty(&vma->anon_vma_chain));
  delete vma;
}

void insert_vm_struct(mm_struct* mm, vm_area_struct* vma) {
  BUG_ON(vma->vm_start >= vma->vm_end || find_vma_intersection(mm, vma->vm_start, vma->vm_end));
  mm->mm_mt[vma->vm_end] = vma;
  mm->map_count++;
  mm->total_vm += vma_pages(vma);
}

// i_mmap_rwsem is taken only for file vmas: a conditional lock the analysis cannot follow.
int split_vma(mm_struct* mm, vm_area_struct* vma, unsigned long addr, bool new_below) NO_THREAD_SAFETY_ANALYSIS {
  mmap_assert_write_locked(mm);
  if (addr <= vma->vm_start || addr >= vma->vm_end || (addr & ~PAGE_MASK)) return -EINVAL;
  // A hugetlb vma splits only at its page size (hugetlb_vm_op_split()).
  if (is_vm_hugetlb_page(vma) && (addr & ~huge_page_mask(hstate_vma(vma)))) return -EINVAL;
  vma_adjust_trans_huge(vma, addr, addr);
  vm_area_struct* nv = vm_area_dup(vma);
  const pgoff_t delta = (addr - vma->vm_start) >> PAGE_SHIFT;
  if (new_below) {
    nv->vm_end = addr;
  } else {
    nv->vm_start = addr;
    nv->vm_pgoff += delta;
  }
  if (int err = anon_vma_clone(nv, vma)) {
    vm_area_free(nv);
    return err;
  }
  if (nv->vm_file) get_file(nv->vm_file);
  if (nv->vm_ops && nv->vm_ops->open) nv->vm_ops->open(nv);
  mm->total_vm -= vma_pages(vma);
  // rmap walkers read vm_start/vm_end/vm_pgoff of vmas in i_mmap under i_mmap_rwsem.
  address_space* mapping = vma->vm_file ? vma->vm_file->f_mapping : nullptr;
  if (mapping) i_mmap_lock_write(mapping);
  if (new_below) {
    vma->vm_start = addr;
    vma->vm_pgoff += delta;
  } else {
    mm->mm_mt.erase(vma->vm_end);
    vma->vm_end = addr;
    mm->mm_mt[vma->vm_end] = vma;
  }
  if (mapping) {
    list_add_tail(&nv->shared, &mapping->i_mmap);
    i_mmap_unlock_write(mapping);
  }
  mm->total_vm += vma_pages(vma);
  insert_vm_struct(mm, nv);
  return 0;
}

int do_munmap(mm_struct* mm, unsigned long start, unsigned long len, std::vector<userfaultfd_unmap_ctx>* uf) {
  mmap_assert_write_locked(mm);
  if ((start & ~PAGE_MASK) || start > TASK_SIZE || len > TASK_SIZE - start) return -EINVAL;
  len = page_align(len);
  if (!len) return -EINVAL;
  const unsigned long end = start + len;
  vm_area_struct* vma = find_vma_intersection(mm, start, end);
  if (!vma) return 0;
  if (start > vma->vm_start) {
    if (int err = split_vma(mm, vma, start, true)) return err;
  }
  vm_area_struct* last = find_vma_intersection(mm, end - 1, end);
  if (last && last->vm_end > end) {
    if (int err = split_vma(mm, last, end, true)) return err;
  }
  std::vector<vm_area_struct*> vmas;
  for (auto it = mm->mm_mt.upper_bound(start); it != mm->mm_mt.end() && it->second->vm_start < end;) {
    vm_area_struct* v = it->second;
    if (uf) userfaultfd_unmap_prep(v, start, end, uf);
    vmas.push_back(v);
    mm->total_vm -= vma_pages(v);
    mm->map_count--;
    it = mm->mm_mt.erase(it);
  }
  unmap_region(mm, vmas, start, end, false);
  return 0;
}

int vm_munmap(mm_struct* mm, unsigned long start, unsigned long len) {
  std::vector<userfaultfd_unmap_ctx> uf;
  mmap_write_lock(mm);
  int ret = do_munmap(mm, start, len, &uf);
  mmap_write_unlock(mm);
  userfaultfd_unmap_complete(&uf);
  return ret;
}

long vm_mmap(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags, file* filp, pgoff_t pgoff) {
  if (flags & MAP_ANONYMOUS) return mmap_region(mm, addr, len, prot, flags, nullptr, pgoff, nullptr);
  if (!filp) return -EBADF;
  if (!filp->f_op || !filp->f_op->mmap) return -ENODEV;
  if (!(filp->f_mode & FMODE_READ)) return -EACCES;
  if ((flags & kMapTypeMask) != MAP_PRIVATE && (prot & PROT_WRITE) && !(filp->f_mode & FMODE_WRITE)) return -EACCES;
  return mmap_region(mm, addr, len, prot, flags, nullptr, pgoff, filp);
}

long vm_mmap_backed(mm_struct* mm, unsigned long addr, unsigned long len, int prot, int flags, const mmap_backing& b,
                    pgoff_t pgoff) {
  if ((flags & MAP_ANONYMOUS) || (!b.ops && !b.hugetlb)) return -EINVAL;
  return mmap_region(mm, addr, len, prot, flags, &b, pgoff, nullptr);
}

void vma_link_file(vm_area_struct* vma) {
  address_space* mapping = vma->vm_file->f_mapping;
  i_mmap_lock_write(mapping);
  list_add_tail(&vma->shared, &mapping->i_mmap);
  i_mmap_unlock_write(mapping);
}

void unlink_file_vma(vm_area_struct* vma) {
  if (!vma->vm_file) return;
  address_space* mapping = vma->vm_file->f_mapping;
  i_mmap_lock_write(mapping);
  list_del_init(&vma->shared);
  i_mmap_unlock_write(mapping);
}

int mm_populate(mm_struct* mm, unsigned long start, unsigned long len) {
  const unsigned long end = start + len;
  int ret = 0;
  mmap_read_lock(mm);
  for (unsigned long addr = start; addr < end && !ret;) {
    vm_area_struct* vma = find_vma_intersection(mm, addr, end);
    if (!vma) break;
    if (addr < vma->vm_start) addr = vma->vm_start;
    const unsigned long vend = vma->vm_end < end ? vma->vm_end : end;
    if (any(vma->vm_flags, VM_IO | VM_PFNMAP) || !vma_is_accessible(vma)) {
      addr = vend;
      continue;
    }
    // Private writable mappings are populated by writes, so no COW fault follows.
    const bool write = (vma->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
    for (; addr < vend; addr += PAGE_SIZE) {
      page* p = nullptr;
      ret = mmu_fault_in_page(mm, addr, write, false, FAULT_FLAG_NONE, &p);
      if (ret) break;
      if (!PageZero(p)) put_page(p);
      cond_resched();
    }
  }
  mmap_read_unlock(mm);
  return ret;
}

void exit_mmap(mm_struct* mm) {
  mmu_notifier_release(mm);  // secondary MMUs stop first, as upstream
  mmap_write_lock(mm);
  std::vector<vm_area_struct*> vmas;
  for (auto& [end, vma] : mm->mm_mt) vmas.push_back(vma);
  mm->mm_mt.clear();
  mm->map_count = 0;
  mm->total_vm = 0;
  unmap_region(mm, vmas, 0, TASK_SIZE, true);
  mmap_write_unlock(mm);
  WARN_ON(atomic_read(&mm->rss_anon) != 0);
  WARN_ON(atomic_read(&mm->rss_file) != 0);
  WARN_ON(atomic_read(&mm->pgtables_bytes) != static_cast<int64_t>(PAGE_SIZE));  // the pgd alone
}

}  // namespace guplab
