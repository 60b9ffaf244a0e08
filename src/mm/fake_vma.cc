// fake_vma.cc - design fake_vma: fake vmas in rmap, fake mapcounts, the pin table.
#include "mm/fake_vma.h"

#include <fmt/format.h>

#include <climits>

#include "base/bug.h"
#include "base/errno.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/internal.h"
#include "mm/mmap.h"
#include "mm/page_ref.h"
#include "mm/pin.h"
#include "mm/rmap.h"
#include "mm/shmem.h"
#include "mm/swap.h"

namespace guplab {

struct fake_vma {
  vm_area_struct vma;
  Machine* machine = nullptr;
  address_space* mapping = nullptr;  // whose i_mmap it is linked into, if any
  bool anon_linked = false;          // linked into the real vma's anon_vmas
  std::atomic<long> refs{1};         // pins made through it, +1 while its GUP call runs
};

namespace {

const vm_operations_struct kFakeVmOps = {.name = "gup_fake_vma"};

void fake_vma_remove(fake_vma* fv) {
  if (fv->mapping) {
    i_mmap_lock_write(fv->mapping);
    list_del(&fv->vma.shared);
    i_mmap_unlock_write(fv->mapping);
    fput(fv->vma.vm_file);
  }
  if (fv->anon_linked) unlink_anon_vmas(&fv->vma);
  Machine* m = fv->machine;
  if (m->tracing())
    m->trace(fmt::format("fake_vma: remove [{:#x}, {:#x}) pgoff {:#x}", fv->vma.vm_start, fv->vma.vm_end,
                         fv->vma.vm_pgoff));
  m->fake_vmas().removed.fetch_add(1, std::memory_order_relaxed);
  delete fv;
}

inline void fake_mapcount_add(folio* f, long delta) {
  sched_point(SchedPoint::kAtomicWrite, &f->lab_private);
  __atomic_add_fetch(&f->lab_private, static_cast<unsigned long>(delta), __ATOMIC_SEQ_CST);
}

}  // namespace

// ---- the table ----------------------------------------------------------------------

FakeVmaTable::FakeVmaTable() {
  for (auto& s : shards_) spin_lock_init(&s.lock, "fake_vma_table");
}

void FakeVmaTable::add(folio* f, fake_vma* fv, int refs) {
  Shard& s = shard(f);
  SpinGuard g(&s.lock);
  auto& v = s.map[f];
  for (auto& [vma, n] : v)
    if (vma == fv) {
      n += refs;
      return;
    }
  v.emplace_back(fv, refs);
}

void FakeVmaTable::take(folio* f, int refs, std::vector<std::pair<fake_vma*, int>>* out) {
  Shard& s = shard(f);
  SpinGuard g(&s.lock);
  auto it = s.map.find(f);
  if (it == s.map.end()) return;
  auto& v = it->second;
  while (refs > 0 && !v.empty()) {
    auto& [fv, n] = v.back();
    const int k = n < refs ? n : refs;
    out->emplace_back(fv, k);
    n -= k;
    refs -= k;
    if (n == 0) v.pop_back();
  }
  if (v.empty()) s.map.erase(it);
}

uint64_t FakeVmaTable::records() const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    SpinGuard g(&s.lock);
    for (const auto& [f, v] : s.map) n += v.size();
  }
  return n;
}

// ---- fake vmas ------------------------------------------------------------------------

bool vma_is_gup_fake(const vm_area_struct* vma) { return vma->vm_ops == &kFakeVmOps; }

fake_vma* fake_vma_insert(vm_area_struct* vma, unsigned long start, unsigned long end) {
  mm_struct* mm = vma->vm_mm;
  mmap_assert_locked(mm);
  BUG_ON(start < vma->vm_start || end > vma->vm_end || start >= end);
  auto* fv = new fake_vma;
  fv->machine = mm->machine;
  vm_area_struct* f = &fv->vma;
  INIT_LIST_HEAD(&f->anon_vma_chain);
  INIT_LIST_HEAD(&f->shared);
  f->vm_start = start;
  f->vm_end = end;
  f->vm_mm = mm;  // who pinned (traces); walkers never touch its page tables
  f->vm_pgoff = linear_page_index(vma, start);
  f->vm_flags = vma->vm_flags;
  f->vm_ops = &kFakeVmOps;
  f->vm_private_data = fv;
  // Anonymous or private memory: its anon pages are found through the vma's anon_vmas.
  const bool anon = vma_is_anonymous(vma) || (is_cow_mapping(vma->vm_flags) && !vma_is_shmem(vma));
  if (anon) {
    if (anon_vma_prepare(vma)) {
      delete fv;
      return nullptr;
    }
    if (anon_vma_clone(f, vma)) {
      unlink_anon_vmas(f);
      delete fv;
      return nullptr;
    }
    fv->anon_linked = true;
  }
  // File pages: through the file's i_mmap, ahead of every real vma.
  if (vma->vm_file) {
    f->vm_file = get_file(vma->vm_file);
    fv->mapping = vma->vm_file->f_mapping;
    i_mmap_lock_write(fv->mapping);
    list_add(&f->shared, &fv->mapping->i_mmap);
    i_mmap_unlock_write(fv->mapping);
  }
  Machine* m = fv->machine;
  m->fake_vmas().inserted.fetch_add(1, std::memory_order_relaxed);
  if (m->tracing())
    m->trace(fmt::format("fake_vma: insert [{:#x}, {:#x}) pgoff {:#x}{}{}", start, end, f->vm_pgoff,
                         fv->mapping ? " i_mmap" : "", fv->anon_linked ? " anon_vma" : ""));
  return fv;
}

void fake_vma_account(fake_vma* fv, folio* f, int refs) {
  fv->refs.fetch_add(refs, std::memory_order_relaxed);
  fv->machine->fake_vmas().add(f, fv, refs);
}

void fake_vma_put(fake_vma* fv) {
  if (fv->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) fake_vma_remove(fv);
}

int fake_vma_grab(folio* f, int refs) {
  int ret = pin_detail::ref_add_checked(f, refs);
  if (ret == -EOVERFLOW) pin_detail::overflow_warn(f);
  if (ret) return ret;
  fake_mapcount_add(f, refs);  // visible before the pin is handed out
  return 0;
}

void fake_vma_unpin(folio* f, int refs) {
  if (WARN_ON_ONCE(folio_fake_mapcount(f) < static_cast<unsigned long>(refs))) return;  // not pinned
  Machine* m = page_machine(f);
  std::vector<std::pair<fake_vma*, int>> owners;
  m->fake_vmas().take(f, refs, &owners);
  fake_mapcount_add(f, -refs);
  // Sleepers in page_mkclean() (wait policy) hold i_mmap_rwsem for read: let them go on
  // before taking it for write below.
  folio_wake_unpinned(f);
  for (auto& [fv, n] : owners)
    if (fv->refs.fetch_sub(n, std::memory_order_acq_rel) == n) fake_vma_remove(fv);
  folio_put_refs(f, refs);
}

FakeVmaStats fake_vma_stats(Machine* m) {
  FakeVmaStats s;
  FakeVmaTable& t = m->fake_vmas();
  s.inserted = t.inserted.load(std::memory_order_relaxed);
  s.removed = t.removed.load(std::memory_order_relaxed);
  s.live = s.inserted - s.removed;
  s.attributed = t.records();
  return s;
}

}  // namespace guplab
