// fake_vma.cc - design fake_vma: fake vmas in rmap, fake mapcounts, the pin table.
#include "mm/fake_vma.h"

#include <fmt/format.h>

#include <climits>

#include "base/bug.h"
#include "base/errno.h"
#include "base/preempt.h"
#include "fs/writeback.h"
#include "fs/fs.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/pin_design.h"
#include "mm/internal.h"
#include "mm/mmap.h"
#include "mm/page_ref.h"
#include "mm/pagemap.h"
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
  std::atomic<long> refs{1};         // pins made through it, +1 while its GUP call runs, +1 per handle
};

struct fake_vma_pin {
  std::vector<fake_vma*> vmas;            // linked by the call; one reference each
  std::vector<fake_pin_record> records;   // which page each pin mapped, through which fake vma
  std::vector<page*> pages;               // every page pinned (other designs release these)
  bool fake = false;                      // made under the fake_vma design
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

// The folio's pin count (head, high half).
inline void fake_pins_add(folio* f, long delta) {
  sched_point(SchedPoint::kAtomicWrite, &f->lab_private);
  __atomic_add_fetch(&f->lab_private, static_cast<unsigned long>(delta) << kFakePinsShift, __ATOMIC_SEQ_CST);
}

// One page's fake mappings: its _mapcount first (a reader of folio_pte_mapped() may then
// over-count real mappings for a moment, never under-count them), then the low half.
void fake_map_add(page* p, int n) {
  page_add_fake_rmap(p, n);
  __atomic_add_fetch(&p->lab_private, static_cast<unsigned long>(n), __ATOMIC_SEQ_CST);
}
// ... and in the opposite order going away.
void fake_map_sub(page* p, int n) {
  __atomic_sub_fetch(&p->lab_private, static_cast<unsigned long>(n), __ATOMIC_SEQ_CST);
  page_remove_fake_rmap(p, n);
}

// Release what @recs of folio @f say (their fake mappings, their fake vmas' pins), and
// @pins pins and references of @f. REQUIRES: process context (fake vmas may be unlinked).
void release_records(folio* f, int pins, const std::vector<fake_pin_record>& recs) {
  for (const fake_pin_record& r : recs) fake_map_sub(r.p, r.pins);
  fake_pins_add(f, -pins);
  // Sleepers in page_mkclean() (wait policy) hold i_mmap_rwsem for read: let them go on
  // before taking it for write below.
  folio_wake_unpinned(f);
  for (const fake_pin_record& r : recs)
    if (r.fv->refs.fetch_sub(r.pins, std::memory_order_acq_rel) == r.pins) fake_vma_remove(r.fv);
  folio_put_refs(f, pins);
}

}  // namespace

// ---- the table ----------------------------------------------------------------------

FakeVmaTable::FakeVmaTable() {
  for (auto& s : shards_) spin_lock_init(&s.lock, "fake_vma_table");
}

void FakeVmaTable::add(folio* f, fake_vma* fv, page* p, int pins) {
  Shard& s = shard(f);
  SpinGuard g(&s.lock);
  auto& v = s.map[f];
  for (auto& r : v)
    if (r.fv == fv && r.p == p) {
      r.pins += pins;
      return;
    }
  v.push_back(fake_pin_record{fv, p, pins});
}

void FakeVmaTable::take(folio* f, int pins, std::vector<fake_pin_record>* out) {
  Shard& s = shard(f);
  SpinGuard g(&s.lock);
  auto it = s.map.find(f);
  if (it == s.map.end()) return;
  auto& v = it->second;
  while (pins > 0 && !v.empty()) {
    fake_pin_record& r = v.back();
    const int k = r.pins < pins ? r.pins : pins;
    out->push_back(fake_pin_record{r.fv, r.p, k});
    r.pins -= k;
    pins -= k;
    if (r.pins == 0) v.pop_back();
  }
  if (v.empty()) s.map.erase(it);
}

bool FakeVmaTable::take_exact(folio* f, fake_vma* fv, page* p, int pins) {
  Shard& s = shard(f);
  SpinGuard g(&s.lock);
  auto it = s.map.find(f);
  if (it == s.map.end()) return false;
  auto& v = it->second;
  for (size_t i = 0; i < v.size(); i++) {
    if (v[i].fv != fv || v[i].p != p) continue;
    if (v[i].pins < pins) return false;
    v[i].pins -= pins;
    if (v[i].pins == 0) v.erase(v.begin() + static_cast<long>(i));
    if (v.empty()) s.map.erase(it);
    return true;
  }
  return false;
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
  mmap_assert_locked(vma->vm_mm);  // REQUIRES (fake_vma.h)
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
  if (auto* h = static_cast<fake_vma_pin*>(current()->fake_vma_pin)) {
    fv->refs.fetch_add(1, std::memory_order_relaxed);  // the handle's
    h->vmas.push_back(fv);
  }
  Machine* m = fv->machine;
  m->fake_vmas().inserted.fetch_add(1, std::memory_order_relaxed);
  if (m->tracing())
    m->trace(fmt::format("fake_vma: insert [{:#x}, {:#x}) pgoff {:#x}{}{}", start, end, f->vm_pgoff,
                         fv->mapping ? " i_mmap" : "", fv->anon_linked ? " anon_vma" : ""));
  return fv;
}

void fake_vma_account(fake_vma* fv, page* p, int pins) {
  folio* f = page_folio(p);
  fv->refs.fetch_add(pins, std::memory_order_relaxed);
  auto* h = static_cast<fake_vma_pin*>(current()->fake_vma_pin);
  for (int i = 0; i < pins; i++) {
    fake_map_add(p + i, 1);
    fv->machine->fake_vmas().add(f, fv, p + i, 1);
    if (h) h->records.push_back(fake_pin_record{fv, p + i, 1});
  }
}

void fake_vma_put(fake_vma* fv) {
  if (fv->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) fake_vma_remove(fv);
}

int fake_vma_grab(folio* f, int refs) {
  int ret = pin_detail::ref_add_checked(f, refs);
  if (ret == -EOVERFLOW) pin_detail::overflow_warn(f);
  if (ret) return ret;
  fake_pins_add(f, refs);  // visible before the pin is handed out
  return 0;
}

void fake_vma_unpin(folio* f, int refs) {
  might_sleep();
  if (WARN_ON_ONCE(folio_fake_mapcount(f) < static_cast<unsigned long>(refs))) return;  // not pinned
  std::vector<fake_pin_record> owners;
  page_machine(f)->fake_vmas().take(f, refs, &owners);
  // Pins with no record were grabbed by a call that failed before it linked them; they
  // hold a reference and a pin count, no mapping.
  release_records(f, refs, owners);
}

bool pin_release_may_sleep(const page* p) { return pin_design_props(page_machine(p)->pin_design()).unpin_may_sleep; }

long pin_user_pages_fake(unsigned long start, unsigned long nr_pages, foll_flags gup_flags, page** pages,
                         fake_vma_pin** handle) {
  *handle = nullptr;
  task_struct* t = current();
  if (WARN_ON_ONCE(t->fake_vma_pin != nullptr)) return -EINVAL;  // no nesting
  if (nr_pages > INT_MAX) return -EINVAL;
  auto* h = new fake_vma_pin;
  h->fake = pin_design_props(t->machine->pin_design()).pin_is_mapping;
  if (h->fake) t->fake_vma_pin = h;
  const int got = pin_user_pages_fast(start, static_cast<int>(nr_pages), gup_flags, pages);
  t->fake_vma_pin = nullptr;
  if (got > 0) h->pages.assign(pages, pages + got);
  if (got <= 0) {
    for (fake_vma* fv : h->vmas) fake_vma_put(fv);
    delete h;
    return got;
  }
  *handle = h;
  return got;
}

void unpin_user_pages_fake(fake_vma_pin* h, bool make_dirty) {
  might_sleep();
  if (!h) return;
  if (!h->fake) {
    unpin_user_pages_dirty_lock(h->pages.data(), h->pages.size(), make_dirty);
    delete h;
    return;
  }
  Machine* m = h->pages.empty() ? nullptr : page_machine(h->pages[0]);
  long released = 0;
  for (const fake_pin_record& r : h->records) {
    folio* f = page_folio(r.p);
    if (WARN_ON_ONCE(!m->fake_vmas().take_exact(f, r.fv, r.p, r.pins))) continue;  // released already
    if (make_dirty && !PageDirty(f)) {
      folio_lock(f);
      folio_mark_dirty(f);
      folio_unlock(f);
    }
    if (m->wb().unpin_redirties && !PageAnon(f) && page_mapping(f))
      folio_mark_dirty(f);  // what the device wrote must reach the disk
    release_records(f, r.pins, {r});
    released += r.pins;
  }
  if (m) m->vmstat().mod(NR_FOLL_PIN_RELEASED, released);
  for (fake_vma* fv : h->vmas) fake_vma_put(fv);  // the handle's references
  delete h;
}

unsigned fake_vma_pin_nr_vmas(const fake_vma_pin* h) { return h ? static_cast<unsigned>(h->vmas.size()) : 0; }

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
