// userfaultfd.cc - userfaultfd contexts, their ioctls, and handle_userfault().
#include "mm/userfaultfd.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

#include "base/bug.h"
#include "base/spinlock.h"
#include "base/task.h"
#include "base/wait.h"
#include "machine/machine.h"
#include "machine/trace_point.h"
#include "mm/fork.h"
#include "mm/huge_memory.h"
#include "mm/hugetlb.h"
#include "mm/internal.h"
#include "mm/lru.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/pgalloc.h"
#include "mm/rmap.h"
#include "mm/shmem.h"
#include "mm/swap.h"
#include "mm/uaccess.h"

namespace guplab {

namespace {

constexpr unsigned long kMmapMinAddr = 65536;  // the kernel's default vm.mmap_min_addr
constexpr uint64_t kFeatures = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_MINOR_SHMEM |
                               UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
constexpr uint64_t kRangeIoctls = (1ull << _UFFDIO_WAKE) | (1ull << _UFFDIO_COPY) | (1ull << _UFFDIO_ZEROPAGE);

/** One fault sleeping on a context (on the faulting task's stack). */
struct uffd_waiter {
  uffd_msg msg{};
  unsigned long address = 0;  // page aligned
  std::atomic<bool> woken{false};
};

/** One event waiting to be read (on the sending task's stack). */
struct uffd_event_waiter {
  uffd_msg msg{};
  std::atomic<bool> done{false};  // read by the handler (set under the context's lock)
};

}  // namespace

struct userfaultfd_ctx {
  mm_struct* mm = nullptr;
  int flags = 0;
  std::atomic<int> refs{1};
  std::atomic<bool> api_done{false};
  std::atomic<uint64_t> features{0};
  std::atomic<bool> released{false};
  spinlock_t lock;
  std::deque<uffd_waiter*> pending GUARDED_BY(lock);  // queued, not yet read
  std::vector<uffd_waiter*> waiting GUARDED_BY(lock); // read by the handler, not yet woken
  std::deque<uffd_event_waiter*> events GUARDED_BY(lock);  // sent, not yet read
  std::atomic<int> mmap_changing{0};    // events under way: mfill/WP ioctls return -EAGAIN
  wait_queue_head_t fault_pending_wqh;  // readers sleep here
  wait_queue_head_t fault_wqh;          // faulting tasks sleep here
  wait_queue_head_t event_wqh;          // tasks waiting for their event to be read sleep here
};

namespace {

void ctx_get(userfaultfd_ctx* ctx) { ctx->refs.fetch_add(1, std::memory_order_relaxed); }

void ctx_put(userfaultfd_ctx* ctx) {
  if (ctx->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  mmdrop(ctx->mm);
  delete ctx;
}

// Wake the faults on [start, start + len) (len 0: all of them).
void wake_userfault(userfaultfd_ctx* ctx, unsigned long start, unsigned long len) {
  auto hit = [&](const uffd_waiter* w) { return len == 0 || (w->address >= start && w->address - start < len); };
  bool any_woken = false;
  {
    SpinGuard g(&ctx->lock);
    auto take = [&](auto& c) {
      for (auto it = c.begin(); it != c.end();) {
        if (hit(*it)) {
          (*it)->woken.store(true, std::memory_order_release);
          it = c.erase(it);
          any_woken = true;
        } else {
          ++it;
        }
      }
    };
    take(ctx->pending);
    take(ctx->waiting);
  }
  if (any_woken) wake_up_all(&ctx->fault_wqh);
}

void dequeue(userfaultfd_ctx* ctx, uffd_waiter* w) {
  SpinGuard g(&ctx->lock);
  auto drop = [&](auto& c) {
    auto it = std::find(c.begin(), c.end(), w);
    if (it != c.end()) c.erase(it);
  };
  drop(ctx->pending);
  drop(ctx->waiting);
}

int validate_range(unsigned long start, unsigned long len) {
  if (start & ~PAGE_MASK) return -EINVAL;
  if (len & ~PAGE_MASK) return -EINVAL;
  if (!len) return -EINVAL;
  if (start < kMmapMinAddr) return -EINVAL;
  if (start >= TASK_SIZE) return -EINVAL;
  if (len > TASK_SIZE - start) return -EINVAL;
  return 0;
}

// What the model registers: private anonymous memory for MISSING and WP, shmem (shared
// anonymous memory) for MINOR only; no hugetlb. @vf: the modes asked (VM_UFFD_*).
bool vma_can_userfault(const vm_area_struct* vma, vm_flags_t vf) {
  if (is_vm_hugetlb_page(vma)) return false;
  if (vma_is_shmem(vma)) return !any(vf, VM_UFFD_MISSING | VM_UFFD_WP);
  if (any(vf, VM_UFFD_MINOR)) return false;  // minor faults need a page cache: shmem
  return vma_is_anonymous(vma) && !any(vma->vm_flags, VM_SHARED);
}

// Set (@wp) or clear the userfaultfd write protection of the present ptes of
// [start, end) of @vma; huge PMDs are split first.
void uffd_wp_range(vm_area_struct* vma, unsigned long start, unsigned long end, bool wp) {
  mm_struct* mm = vma->vm_mm;
  for (unsigned long addr = start; addr < end; addr += PAGE_SIZE) {
    pgtable_slot* pmdp = pmd_walk(mm, addr);
    if (!pmdp) continue;
    if (pmd_leaf(pmdp_get(pmdp))) __split_huge_pmd(vma, pmdp, addr);
    SpinGuard g(&mm->page_table_lock);
    pmd_t pmd = pmdp_get(pmdp);
    if (!pmd_present(pmd) || pmd_leaf(pmd)) continue;
    pgtable_slot* ptep = pte_offset(mm_mem(mm), pmd, addr);
    pte_t pte = ptep_get(ptep);
    if (!pte_present(pte)) continue;
    pte_t n = wp ? pte_mkuffd_wp(pte_wrprotect(pte)) : pte_clear_uffd_wp(pte);
    if (!pte_same(n, pte)) set_pte(ptep, n);
  }
}

// Split so that [start, end) of the vma at @addr is a vma of its own; returns it.
vm_area_struct* isolate_vma(mm_struct* mm, unsigned long addr, unsigned long end, int* err) REQUIRES(mm->mmap_lock) {
  vm_area_struct* vma = find_vma(mm, addr);
  if (vma->vm_start < addr) {
    if ((*err = split_vma(mm, vma, addr, true))) return nullptr;
    vma = find_vma(mm, addr);
  }
  if (vma->vm_end > end) {
    if ((*err = split_vma(mm, vma, end, false))) return nullptr;
    vma = find_vma(mm, addr);
  }
  return vma;
}

int uffd_api(userfaultfd_ctx* ctx, uffdio_api* a) {
  if (a->api != UFFD_API || (a->features & ~kFeatures)) {
    std::memset(a, 0, sizeof(*a));
    return -EINVAL;
  }
  bool expected = false;
  if (!ctx->api_done.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    std::memset(a, 0, sizeof(*a));
    return -EINVAL;  // a second UFFDIO_API
  }
  ctx->features.store(a->features, std::memory_order_release);
  a->features = kFeatures;
  a->ioctls = (1ull << _UFFDIO_REGISTER) | (1ull << _UFFDIO_UNREGISTER) | (1ull << _UFFDIO_API);
  return 0;
}

int uffd_register(userfaultfd_ctx* ctx, uffdio_register* r) {
  constexpr uint64_t kModes = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP | UFFDIO_REGISTER_MODE_MINOR;
  if (!r->mode || (r->mode & ~kModes)) return -EINVAL;
  vm_flags_t vf = VM_NONE;
  if (r->mode & UFFDIO_REGISTER_MODE_MINOR) vf |= VM_UFFD_MINOR;
  if (r->mode & UFFDIO_REGISTER_MODE_MISSING) vf |= VM_UFFD_MISSING;
  if (r->mode & UFFDIO_REGISTER_MODE_WP) vf |= VM_UFFD_WP;
  if (int e = validate_range(r->range.start, r->range.len)) return e;
  const unsigned long start = r->range.start, end = start + r->range.len;
  mm_struct* mm = ctx->mm;
  if (!mmget_not_zero(mm)) return -ESRCH;
  int ret = 0;
  mmap_write_lock(mm);
  vm_area_struct* vma = find_vma(mm, start);
  if (!vma || vma->vm_start >= end) ret = -EINVAL;
  for (vm_area_struct* cur = vma; !ret && cur && cur->vm_start < end; cur = vma_next(mm, cur)) {
    if (!vma_can_userfault(cur, vf)) ret = -EINVAL;
    else if (!any(cur->vm_flags, VM_MAYWRITE)) ret = -EPERM;
    else if (cur->vm_userfaultfd_ctx && cur->vm_userfaultfd_ctx != ctx) ret = -EBUSY;
  }
  for (unsigned long addr = start; !ret && addr < end;) {
    vm_area_struct* cur = find_vma(mm, addr);
    if (!cur || cur->vm_start >= end) break;
    if (cur->vm_start > addr) addr = cur->vm_start;  // a hole: registration covers the vmas only
    cur = isolate_vma(mm, addr, end, &ret);
    if (!cur) break;
    cur->vm_flags = (cur->vm_flags & ~VM_UFFD_ALL) | vf;
    cur->vm_userfaultfd_ctx = ctx;
    addr = cur->vm_end;
  }
  mmap_write_unlock(mm);
  mmput(mm);
  if (ret) return ret;
  r->ioctls = kRangeIoctls | ((r->mode & UFFDIO_REGISTER_MODE_WP) ? (1ull << _UFFDIO_WRITEPROTECT) : 0) |
              ((r->mode & UFFDIO_REGISTER_MODE_MINOR) ? (1ull << _UFFDIO_CONTINUE) : 0);
  trace_point(mm->machine, "uffd", "register", "start={:#x} len={:#x} mode={:#x}", start, r->range.len, r->mode);
  return 0;
}

int uffd_unregister(userfaultfd_ctx* ctx, uffdio_range* r) {
  if (int e = validate_range(r->start, r->len)) return e;
  const unsigned long start = r->start, end = start + r->len;
  mm_struct* mm = ctx->mm;
  if (!mmget_not_zero(mm)) return -ESRCH;
  int ret = 0;
  mmap_write_lock(mm);
  vm_area_struct* vma = find_vma(mm, start);
  if (!vma || vma->vm_start >= end) ret = -EINVAL;
  for (vm_area_struct* cur = vma; !ret && cur && cur->vm_start < end; cur = vma_next(mm, cur))
    if (!vma_can_userfault(cur, cur->vm_flags & VM_UFFD_ALL)) ret = -EINVAL;
  for (unsigned long addr = start; !ret && addr < end;) {
    vm_area_struct* cur = find_vma(mm, addr);
    if (!cur || cur->vm_start >= end) break;
    if (cur->vm_start > addr) addr = cur->vm_start;
    if (!cur->vm_userfaultfd_ctx) {
      addr = cur->vm_end;
      continue;
    }
    cur = isolate_vma(mm, addr, end, &ret);
    if (!cur) break;
    userfaultfd_ctx* owner = cur->vm_userfaultfd_ctx;
    if (userfaultfd_wp(cur)) uffd_wp_range(cur, cur->vm_start, cur->vm_end, false);
    cur->vm_flags &= ~VM_UFFD_ALL;
    cur->vm_userfaultfd_ctx = nullptr;
    // Faults still sleeping on this range now retry as ordinary faults.
    wake_userfault(owner, cur->vm_start, cur->vm_end - cur->vm_start);
    addr = cur->vm_end;
  }
  mmap_write_unlock(mm);
  mmput(mm);
  return ret;
}

// Install one page at @dst: a copy of @src (nullptr: the zero page). mmap_lock held.
int mfill_one(vm_area_struct* vma, unsigned long dst, const void* src, bool wp) {
  mm_struct* mm = vma->vm_mm;
  Machine* m = mm_machine(mm);
  pgtable_slot* pmdp = pmd_alloc_walk(mm, dst);
  if (!pmdp) return -ENOMEM;
  if (pmd_none(pmdp_get(pmdp)) && __pte_alloc(mm, pmdp)) return -ENOMEM;
  if (pmd_leaf(pmdp_get(pmdp))) return -EEXIST;
  page* p = nullptr;
  if (src) {
    if (anon_vma_prepare(vma)) return -ENOMEM;
    p = alloc_pages_on(m, gfp_t::GFP_HIGHUSER_MOVABLE, 0);
    if (!p) return -ENOMEM;
    std::memcpy(page_address(p), src, PAGE_SIZE);
  }
  SpinGuard g(&mm->page_table_lock);
  pmd_t pmd = pmdp_get(pmdp);
  pgtable_slot* ptep = pmd_leaf(pmd) ? nullptr : pte_offset(mm_mem(mm), pmd, dst);
  if (!ptep || !pte_none(ptep_get(ptep))) {
    if (p) folio_put(page_folio(p));
    return -EEXIST;
  }
  pte_t entry;
  if (p) {
    entry = pte_mkyoung(pte_mkdirty(mk_pte(p, vma->vm_page_prot)));
    if (wp) entry = pte_mkuffd_wp(entry);
    else if (any(vma->vm_flags, VM_WRITE)) entry = pte_mkwrite(entry);
    folio* f = page_folio(p);
    folio_add_new_anon_rmap(f, vma, dst);
    folio_add_lru(f);
    add_mm_rss(mm, true, 1);
  } else {
    entry = pte_mkspecial(mk_pte(m->zero_page(), vma->vm_page_prot));
  }
  set_pte(ptep, entry);
  return 0;
}

// UFFDIO_COPY (@src a user address of the calling task) or UFFDIO_ZEROPAGE (@src 0).
// Returns the bytes done, or -errno if none.
long mfill_atomic(userfaultfd_ctx* ctx, unsigned long dst, unsigned long src, unsigned long len, bool copy, bool wp) {
  mm_struct* mm = ctx->mm;
  if (!mmget_not_zero(mm)) return -ESRCH;
  std::vector<char> buf(copy ? PAGE_SIZE : 0);
  long done = 0;
  int err = 0;
  while (static_cast<unsigned long>(done) < len) {
    if (copy && copy_from_user(buf.data(), src + static_cast<unsigned long>(done), PAGE_SIZE)) {
      err = -EFAULT;
      break;
    }
    mmap_read_lock(mm);
    vm_area_struct* vma = find_vma(mm, dst);
    // The whole range must be in one registered vma (upstream's find_dst_vma()).
    if (ctx->mmap_changing.load(std::memory_order_acquire)) err = -EAGAIN;  // an event came since
    else if (!vma || dst < vma->vm_start || dst + len > vma->vm_end || !vma->vm_userfaultfd_ctx) err = -ENOENT;
    else if (vma_is_shmem(vma) || (wp && !userfaultfd_wp(vma))) err = -EINVAL;  // shmem: MINOR only
    else err = mfill_one(vma, dst + static_cast<unsigned long>(done), copy ? buf.data() : nullptr, wp);
    mmap_read_unlock(mm);
    if (err) break;
    done += static_cast<long>(PAGE_SIZE);
    if (fatal_signal_pending(current())) {
      err = -EINTR;
      break;
    }
  }
  mmput(mm);
  return done ? done : err;
}

int uffd_copy(userfaultfd_ctx* ctx, uffdio_copy* c) {
  if (ctx->mmap_changing.load(std::memory_order_acquire)) return -EAGAIN;  // ->copy untouched, as upstream
  c->copy = 0;
  if (int e = validate_range(c->dst, c->len)) return e;
  if (c->src + c->len <= c->src) return -EINVAL;
  if (c->mode & ~(UFFDIO_COPY_MODE_DONTWAKE | UFFDIO_COPY_MODE_WP)) return -EINVAL;
  long ret = mfill_atomic(ctx, c->dst, c->src, c->len, true, c->mode & UFFDIO_COPY_MODE_WP);
  c->copy = ret;
  if (ret < 0) return static_cast<int>(ret);
  if (!(c->mode & UFFDIO_COPY_MODE_DONTWAKE)) wake_userfault(ctx, c->dst, static_cast<unsigned long>(ret));
  trace_point(ctx->mm->machine, "uffd", "copy", "dst={:#x} len={:#x} done={}", c->dst, c->len, ret);
  return static_cast<unsigned long>(ret) == c->len ? 0 : -EAGAIN;
}

int uffd_zeropage(userfaultfd_ctx* ctx, uffdio_zeropage* z) {
  if (ctx->mmap_changing.load(std::memory_order_acquire)) return -EAGAIN;
  z->zeropage = 0;
  if (int e = validate_range(z->range.start, z->range.len)) return e;
  if (z->mode & ~UFFDIO_ZEROPAGE_MODE_DONTWAKE) return -EINVAL;
  long ret = mfill_atomic(ctx, z->range.start, 0, z->range.len, false, false);
  z->zeropage = ret;
  if (ret < 0) return static_cast<int>(ret);
  if (!(z->mode & UFFDIO_ZEROPAGE_MODE_DONTWAKE)) wake_userfault(ctx, z->range.start, static_cast<unsigned long>(ret));
  return static_cast<unsigned long>(ret) == z->range.len ? 0 : -EAGAIN;
}

int uffd_writeprotect(userfaultfd_ctx* ctx, uffdio_writeprotect* w) {
  if (ctx->mmap_changing.load(std::memory_order_acquire)) return -EAGAIN;
  if (int e = validate_range(w->range.start, w->range.len)) return e;
  if (w->mode & ~(UFFDIO_WRITEPROTECT_MODE_WP | UFFDIO_WRITEPROTECT_MODE_DONTWAKE)) return -EINVAL;
  const bool wp = w->mode & UFFDIO_WRITEPROTECT_MODE_WP;
  const bool dontwake = w->mode & UFFDIO_WRITEPROTECT_MODE_DONTWAKE;
  if (wp && dontwake) return -EINVAL;
  const unsigned long start = w->range.start, end = start + w->range.len;
  mm_struct* mm = ctx->mm;
  if (!mmget_not_zero(mm)) return -ESRCH;
  int err = -ENOENT;
  mmap_read_lock(mm);
  for (vm_area_struct* vma = find_vma(mm, start); vma && vma->vm_start < end; vma = vma_next(mm, vma)) {
    if (!userfaultfd_wp(vma)) {
      err = -ENOENT;
      break;
    }
    uffd_wp_range(vma, std::max(start, vma->vm_start), std::min(end, vma->vm_end), wp);
    err = 0;
  }
  mmap_read_unlock(mm);
  mmput(mm);
  if (err) return err;
  if (!wp && !dontwake) wake_userfault(ctx, start, w->range.len);
  return 0;
}

// Map the page shmem already holds for @dst (a minor fault's resolution). mmap_lock held.
int continue_one(vm_area_struct* vma, unsigned long dst, bool wp) {
  mm_struct* mm = vma->vm_mm;
  page* p = shmem_find_page(vma, linear_page_index(vma, dst));
  if (!p) return -EFAULT;  // nothing in the page cache to map
  pgtable_slot* pmdp = pmd_alloc_walk(mm, dst);
  int err = 0;
  if (!pmdp) err = -ENOMEM;
  else if (pmd_none(pmdp_get(pmdp)) && __pte_alloc(mm, pmdp)) err = -ENOMEM;
  if (!err) {
    SpinGuard g(&mm->page_table_lock);
    pmd_t pmd = pmdp_get(pmdp);
    pgtable_slot* ptep = pmd_leaf(pmd) ? nullptr : pte_offset(mm_mem(mm), pmd, dst);
    if (!ptep || !pte_none(ptep_get(ptep))) {
      err = -EEXIST;
    } else {
      pte_t entry = pte_mkyoung(pte_mkdirty(mk_pte(p, vma->vm_page_prot)));
      if (wp) entry = pte_mkuffd_wp(entry);
      else if (any(vma->vm_flags, VM_WRITE)) entry = pte_mkwrite(entry);
      page_add_file_rmap(p, vma, false);
      add_mm_rss(mm, false, 1);
      set_pte(ptep, entry);  // the mapping owns the reference from shmem_find_page()
      return 0;
    }
  }
  put_page(p);
  return err;
}

// UFFDIO_CONTINUE: map pages shmem holds into a MINOR-registered range.
int uffd_continue(userfaultfd_ctx* ctx, uffdio_continue* c) {
  if (ctx->mmap_changing.load(std::memory_order_acquire)) return -EAGAIN;
  c->mapped = 0;
  if (int e = validate_range(c->range.start, c->range.len)) return e;
  // (UFFDIO_CONTINUE_MODE_WP, 6.3, is newer than the model's header and shmem is never
  // WP-registered here: refused as an unknown mode.)
  if (c->mode & ~UFFDIO_CONTINUE_MODE_DONTWAKE) return -EINVAL;
  const bool wp = false;
  const unsigned long start = c->range.start, len = c->range.len;
  mm_struct* mm = ctx->mm;
  if (!mmget_not_zero(mm)) return -ESRCH;
  unsigned long done = 0;
  int err = 0;
  while (done < len) {
    mmap_read_lock(mm);
    vm_area_struct* vma = find_vma(mm, start);
    if (ctx->mmap_changing.load(std::memory_order_acquire)) err = -EAGAIN;
    else if (!vma || start < vma->vm_start || start + len > vma->vm_end || !vma->vm_userfaultfd_ctx) err = -ENOENT;
    else if (!vma_is_shmem(vma)) err = -EINVAL;
    else err = continue_one(vma, start + done, wp);
    mmap_read_unlock(mm);
    if (err) break;
    done += PAGE_SIZE;
    if (fatal_signal_pending(current())) {
      err = -EINTR;
      break;
    }
  }
  mmput(mm);
  if (!done) {
    c->mapped = err;
    return err;
  }
  c->mapped = static_cast<int64_t>(done);
  if (!(c->mode & UFFDIO_CONTINUE_MODE_DONTWAKE)) wake_userfault(ctx, start, done);
  trace_point(mm->machine, "uffd", "continue", "start={:#x} len={:#x} done={}", start, len, done);
  return done == len ? 0 : -EAGAIN;
}

int uffd_wake(userfaultfd_ctx* ctx, uffdio_range* r) {
  if (int e = validate_range(r->start, r->len)) return e;
  wake_userfault(ctx, r->start, r->len);
  return 0;
}

// Is the fault still unresolved (worth sleeping for)? Reads the entry once.
bool userfaultfd_must_wait(const vm_fault* vmf, vm_flags_t reason) {
  if (!vmf->pte) return true;
  pte_t pte = ptep_get(vmf->pte);
  if (reason != VM_UFFD_WP) return pte_none(pte);  // MISSING, MINOR
  return pte_present(pte) && pte_uffd_wp(pte);
}

}  // namespace

userfaultfd_ctx* userfaultfd(mm_struct* mm, int flags) {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY)) return ERR_PTR<userfaultfd_ctx>(-EINVAL);
  auto* ctx = new userfaultfd_ctx;
  ctx->mm = mm;
  ctx->flags = flags;
  init_waitqueue_head(&ctx->fault_pending_wqh, "uffd_fault_pending");
  init_waitqueue_head(&ctx->fault_wqh, "uffd_fault");
  init_waitqueue_head(&ctx->event_wqh, "uffd_event");
  mmgrab(mm);
  return ctx;
}

void userfaultfd_close(userfaultfd_ctx* ctx) {
  ctx->released.store(true, std::memory_order_release);
  mm_struct* mm = ctx->mm;
  if (mmget_not_zero(mm)) {
    mmap_write_lock(mm);
    for (auto& [end, vma] : mm->mm_mt) {
      if (vma->vm_userfaultfd_ctx != ctx) continue;
      vma->vm_flags &= ~VM_UFFD_ALL;
      vma->vm_userfaultfd_ctx = nullptr;
    }
    mmap_write_unlock(mm);
    mmput(mm);
  }
  wake_userfault(ctx, 0, 0);
  wake_up_all(&ctx->fault_pending_wqh);
  wake_up_all(&ctx->event_wqh);  // unread events: their senders stop waiting
  ctx_put(ctx);
}

userfaultfd_ctx* userfaultfd_get(userfaultfd_ctx* ctx) {
  ctx_get(ctx);
  return ctx;
}

void userfaultfd_put(userfaultfd_ctx* ctx) { ctx_put(ctx); }

int userfaultfd_ioctl(userfaultfd_ctx* ctx, unsigned long cmd, void* arg) {
  if (cmd != UFFDIO_API && !ctx->api_done.load(std::memory_order_acquire)) return -EINVAL;
  if (!arg) return -EFAULT;
  // The call holds the context, as fdget() holds the file: a close() racing it frees
  // nothing under it.
  ctx_get(ctx);
  int ret = -EINVAL;
  switch (cmd) {
    case UFFDIO_API: ret = uffd_api(ctx, static_cast<uffdio_api*>(arg)); break;
    case UFFDIO_REGISTER: ret = uffd_register(ctx, static_cast<uffdio_register*>(arg)); break;
    case UFFDIO_UNREGISTER: ret = uffd_unregister(ctx, static_cast<uffdio_range*>(arg)); break;
    case UFFDIO_COPY: ret = uffd_copy(ctx, static_cast<uffdio_copy*>(arg)); break;
    case UFFDIO_ZEROPAGE: ret = uffd_zeropage(ctx, static_cast<uffdio_zeropage*>(arg)); break;
    case UFFDIO_WRITEPROTECT: ret = uffd_writeprotect(ctx, static_cast<uffdio_writeprotect*>(arg)); break;
    case UFFDIO_WAKE: ret = uffd_wake(ctx, static_cast<uffdio_range*>(arg)); break;
    case UFFDIO_CONTINUE: ret = uffd_continue(ctx, static_cast<uffdio_continue*>(arg)); break;
    default: break;
  }
  ctx_put(ctx);
  return ret;
}

namespace {
long read_msg(userfaultfd_ctx* ctx, uffd_msg* msg, bool nonblock);
}  // namespace

long userfaultfd_read(userfaultfd_ctx* ctx, uffd_msg* msg, bool nonblock) {
  if (!ctx->api_done.load(std::memory_order_acquire)) return -EINVAL;
  nonblock = nonblock || (ctx->flags & O_NONBLOCK);
  if (!nonblock) might_sleep();
  ctx_get(ctx);  // as fdget(): a racing close frees nothing under the read
  const long ret = read_msg(ctx, msg, nonblock);
  ctx_put(ctx);
  return ret;
}

namespace {

long read_msg(userfaultfd_ctx* ctx, uffd_msg* msg, bool nonblock) {
  for (;;) {
    const uint32_t s = ctx->fault_pending_wqh.seq.load(std::memory_order_acquire);
    bool event = false;
    {
      SpinGuard g(&ctx->lock);
      if (!ctx->pending.empty()) {
        uffd_waiter* w = ctx->pending.front();
        ctx->pending.pop_front();
        *msg = w->msg;
        ctx->waiting.push_back(w);
        return static_cast<long>(sizeof(uffd_msg));
      }
      // Then events, oldest first; after a close nobody is handed one (its sender is
      // taking it back).
      if (!ctx->events.empty() && !ctx->released.load(std::memory_order_acquire)) {
        uffd_event_waiter* ew = ctx->events.front();
        ctx->events.pop_front();
        *msg = ew->msg;  // a fork's new context is the reader's from here on
        ew->done.store(true, std::memory_order_release);
        event = true;
      }
    }
    if (event) {
      wake_up_all(&ctx->event_wqh);
      return static_cast<long>(sizeof(uffd_msg));
    }
    if (ctx->released.load(std::memory_order_acquire)) return 0;
    if (nonblock) return -EAGAIN;
    if (fatal_signal_pending(current())) return -EINTR;
    wait_queue_sleep(&ctx->fault_pending_wqh, s);
  }
}

}  // namespace

int userfaultfd_nr_waiting(userfaultfd_ctx* ctx) {
  SpinGuard g(&ctx->lock);
  return static_cast<int>(ctx->pending.size() + ctx->waiting.size());
}

int userfaultfd_nr_events(userfaultfd_ctx* ctx) {
  SpinGuard g(&ctx->lock);
  return static_cast<int>(ctx->events.size());
}

namespace {

const char* event_name(uint8_t e) {
  switch (e) {
    case UFFD_EVENT_FORK: return "fork";
    case UFFD_EVENT_REMOVE: return "remove";
    case UFFD_EVENT_UNMAP: return "unmap";
    default: return "?";
  }
}

// Queue @ew on @ctx and sleep until a reader takes it, the context is closed or the
// task is killed. Consumes a reference to @ctx and one count of its mmap_changing,
// both taken by the caller when it decided to send. An unread fork event's new
// context is closed (the child's vmas lose the registration).
void event_wait_completion(userfaultfd_ctx* ctx, uffd_event_waiter* ew) {
  Machine* m = mm_machine(ctx->mm);
  {
    SpinGuard g(&ctx->lock);
    ctx->events.push_back(ew);
  }
  wake_up_all(&ctx->fault_pending_wqh);  // readers
  trace_point(m, "uffd", "event", "{} sent, waiting to be read", event_name(ew->msg.event));
  wait_event_killable(&ctx->event_wqh, [&] {
    return ew->done.load(std::memory_order_acquire) || ctx->released.load(std::memory_order_acquire);
  });
  userfaultfd_ctx* unread_child = nullptr;
  {
    SpinGuard g(&ctx->lock);
    if (!ew->done.load(std::memory_order_relaxed)) {  // not read: take it back
      auto it = std::find(ctx->events.begin(), ctx->events.end(), ew);
      if (it != ctx->events.end()) ctx->events.erase(it);
      if (ew->msg.event == UFFD_EVENT_FORK) unread_child = userfaultfd_fork_ctx(&ew->msg);
    }
  }
  trace_point(m, "uffd", "event", "{} {}", event_name(ew->msg.event),
              ew->done.load(std::memory_order_acquire) ? "read" : "not read (context closed or task killed)");
  if (unread_child) userfaultfd_close(unread_child);
  ctx->mmap_changing.fetch_sub(1, std::memory_order_acq_rel);
  ctx_put(ctx);
}

}  // namespace

userfaultfd_ctx* userfaultfd_fork_ctx(const uffd_msg* msg) {
  if (msg->event != UFFD_EVENT_FORK) return nullptr;
  return reinterpret_cast<userfaultfd_ctx*>(static_cast<uintptr_t>(msg->arg.reserved.reserved1));
}

void dup_userfaultfd(vm_area_struct* child, std::vector<userfaultfd_fork_pair>* fcs) {
  userfaultfd_ctx* octx = child->vm_userfaultfd_ctx;
  if (!octx) return;
  if (!(octx->features.load(std::memory_order_acquire) & UFFD_FEATURE_EVENT_FORK) ||
      octx->released.load(std::memory_order_acquire)) {
    child->vm_userfaultfd_ctx = nullptr;  // the child does not inherit the registration
    child->vm_flags &= ~VM_UFFD_ALL;
    return;
  }
  userfaultfd_ctx* nctx = nullptr;
  for (const userfaultfd_fork_pair& f : *fcs)
    if (f.orig == octx) nctx = f.child;
  if (!nctx) {
    nctx = new userfaultfd_ctx;  // one reference: the reader's once the event is read
    nctx->mm = child->vm_mm;
    nctx->flags = octx->flags;
    nctx->api_done.store(true, std::memory_order_relaxed);
    nctx->features.store(octx->features.load(std::memory_order_acquire), std::memory_order_relaxed);
    init_waitqueue_head(&nctx->fault_pending_wqh, "uffd_fault_pending");
    init_waitqueue_head(&nctx->fault_wqh, "uffd_fault");
    init_waitqueue_head(&nctx->event_wqh, "uffd_event");
    mmgrab(nctx->mm);
    ctx_get(octx);
    octx->mmap_changing.fetch_add(1, std::memory_order_acq_rel);
    fcs->push_back({octx, nctx});
  }
  child->vm_userfaultfd_ctx = nctx;
}

void dup_userfaultfd_complete(std::vector<userfaultfd_fork_pair>* fcs) {
  for (const userfaultfd_fork_pair& f : *fcs) {
    uffd_event_waiter ew;
    ew.msg.event = UFFD_EVENT_FORK;
    ew.msg.arg.reserved.reserved1 = reinterpret_cast<uintptr_t>(f.child);  // the model's "fd"
    event_wait_completion(f.orig, &ew);
  }
  fcs->clear();
}

void dup_userfaultfd_fail(std::vector<userfaultfd_fork_pair>* fcs) {
  for (const userfaultfd_fork_pair& f : *fcs) {
    f.orig->mmap_changing.fetch_sub(1, std::memory_order_acq_rel);
    ctx_put(f.orig);
    f.child->released.store(true, std::memory_order_release);
    ctx_put(f.child);
  }
  fcs->clear();
}

bool userfaultfd_remove(vm_area_struct* vma, unsigned long start, unsigned long end) NO_THREAD_SAFETY_ANALYSIS
/* drops mmap_lock when it sends */ {
  userfaultfd_ctx* ctx = vma->vm_userfaultfd_ctx;
  if (!ctx || !(ctx->features.load(std::memory_order_acquire) & UFFD_FEATURE_EVENT_REMOVE)) return true;
  mm_struct* mm = vma->vm_mm;
  ctx_get(ctx);
  ctx->mmap_changing.fetch_add(1, std::memory_order_acq_rel);
  mmap_read_unlock(mm);
  uffd_event_waiter ew;
  ew.msg.event = UFFD_EVENT_REMOVE;
  ew.msg.arg.remove.start = start;
  ew.msg.arg.remove.end = end;
  event_wait_completion(ctx, &ew);
  return false;
}

void userfaultfd_unmap_prep(vm_area_struct* vma, unsigned long start, unsigned long end,
                            std::vector<userfaultfd_unmap_ctx>* uf) {
  userfaultfd_ctx* ctx = vma->vm_userfaultfd_ctx;
  if (!ctx || !(ctx->features.load(std::memory_order_acquire) & UFFD_FEATURE_EVENT_UNMAP)) return;
  for (const userfaultfd_unmap_ctx& u : *uf)
    if (u.ctx == ctx && u.start == start && u.end == end) return;  // one event per context and range
  ctx_get(ctx);
  ctx->mmap_changing.fetch_add(1, std::memory_order_acq_rel);
  uf->push_back({ctx, start, end});
}

void userfaultfd_unmap_complete(std::vector<userfaultfd_unmap_ctx>* uf) {
  for (const userfaultfd_unmap_ctx& u : *uf) {
    uffd_event_waiter ew;
    ew.msg.event = UFFD_EVENT_UNMAP;
    ew.msg.arg.remove.start = u.start;
    ew.msg.arg.remove.end = u.end;
    event_wait_completion(u.ctx, &ew);
  }
  uf->clear();
}

vm_fault_t handle_userfault(vm_fault* vmf, vm_flags_t reason) NO_THREAD_SAFETY_ANALYSIS /* drops mmap_lock */ {
  vm_area_struct* vma = vmf->vma;
  mm_struct* mm = vma->vm_mm;
  userfaultfd_ctx* ctx = vma->vm_userfaultfd_ctx;
  Machine* m = mm_machine(mm);
  mmap_assert_locked(mm);  // REQUIRES (userfaultfd.h)
  if (!ctx || ctx->released.load(std::memory_order_acquire)) return VM_FAULT_SIGBUS;
  if (!any(vmf->flags, FAULT_FLAG_ALLOW_RETRY)) {
    // Nobody above us can retry: the fault cannot wait for the handler (seed 001's
    // problem with GUP before get_user_pages_locked/unlocked).
    trace_point(m, "uffd", "handle_userfault", "address={:#x} no ALLOW_RETRY: SIGBUS", vmf->address);
    return VM_FAULT_SIGBUS;
  }
  if (any(vmf->flags, FAULT_FLAG_RETRY_NOWAIT)) return VM_FAULT_RETRY;  // mmap_lock kept
  uffd_waiter w;
  w.address = vmf->address;
  w.msg.event = UFFD_EVENT_PAGEFAULT;
  w.msg.arg.pagefault.address = vmf->address;
  if (any(vmf->flags, FAULT_FLAG_WRITE)) w.msg.arg.pagefault.flags |= UFFD_PAGEFAULT_FLAG_WRITE;
  if (reason == VM_UFFD_WP) w.msg.arg.pagefault.flags |= UFFD_PAGEFAULT_FLAG_WP;
  if (reason == VM_UFFD_MINOR) w.msg.arg.pagefault.flags |= UFFD_PAGEFAULT_FLAG_MINOR;
  if ((ctx->features.load(std::memory_order_acquire) & UFFD_FEATURE_THREAD_ID) && current())
    w.msg.arg.pagefault.feat.ptid = static_cast<__u32>(current()->pid);
  ctx_get(ctx);
  {
    SpinGuard g(&ctx->lock);
    ctx->pending.push_back(&w);
  }
  // Queued before this check: a resolution after it wakes us.
  const bool must_wait = userfaultfd_must_wait(vmf, reason);
  mmap_read_unlock(mm);
  trace_point(m, "uffd", "handle_userfault", "address={:#x}{}{} mmap_lock dropped{}", vmf->address,
              reason == VM_UFFD_WP ? " wp" : reason == VM_UFFD_MINOR ? " minor" : " missing", any(vmf->flags, FAULT_FLAG_TRIED) ? " tried" : "",
              must_wait ? ", waiting" : "");
  if (must_wait) {
    wake_up_all(&ctx->fault_pending_wqh);
    wait_event_killable(&ctx->fault_wqh, [&] {
      return w.woken.load(std::memory_order_acquire) || ctx->released.load(std::memory_order_acquire);
    });
  }
  dequeue(ctx, &w);
  ctx_put(ctx);
  return VM_FAULT_RETRY;
}

}  // namespace guplab
