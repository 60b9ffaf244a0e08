// xarray.cc - the radix tree behind struct xarray.
#include "mm/xarray.h"


#include "base/sched.h"
#include "base/bug.h"

namespace guplab {

namespace {

constexpr unsigned long kChunkMask = XA_CHUNK_SIZE - 1;

inline unsigned slot_of(unsigned long index, unsigned shift) {
  return static_cast<unsigned>((index >> shift) & kChunkMask);
}
// Does a tree whose top node has @shift cover @index?
inline bool covers(unsigned shift, unsigned long index) {
  return shift + XA_CHUNK_SHIFT >= 64 || (index >> (shift + XA_CHUNK_SHIFT)) == 0;
}
// The highest slot that can hold an index at @shift (the top level of a 64-bit space
// has fewer than 64 usable slots).
inline unsigned max_slot(unsigned shift) {
  const unsigned long top = ~0ul >> shift;
  return top < kChunkMask ? static_cast<unsigned>(top) : static_cast<unsigned>(kChunkMask);
}

xa_node* node_alloc(unsigned shift, xa_node* parent, unsigned offset) {
  auto* n = new xa_node;
  for (auto& s : n->slots) s.store(nullptr, std::memory_order_relaxed);
  for (auto& m : n->marks) m.store(0, std::memory_order_relaxed);
  n->shift = static_cast<unsigned char>(shift);
  n->parent = parent;
  n->offset = static_cast<unsigned char>(offset);
  return n;
}

void node_free_rcu(rcu_head* h) { delete container_of(h, xa_node, rcu); }

// The leaf holding @index, or nullptr.
xa_node* leaf_of(const xarray* xa, unsigned long index) {
  xa_node* n = xa->xa_head.load(std::memory_order_acquire);
  if (!n || !covers(n->shift, index)) return nullptr;
  while (n && n->shift) {
    sched_point(SchedPoint::kAtomicRead, &n->slots[0]);
    n = static_cast<xa_node*>(n->slots[slot_of(index, n->shift)].load(std::memory_order_acquire));
  }
  return n;
}

// Clear @bit of @mark in @n and, while a node's mark word becomes empty, in its parents.
void clear_mark_up(xa_node* n, unsigned bit, unsigned mark) {
  while (n) {
    const uint64_t old = n->marks[mark].fetch_and(~(uint64_t{1} << bit), std::memory_order_release);
    if ((old & ~(uint64_t{1} << bit)) != 0 || !(old & (uint64_t{1} << bit))) return;
    bit = n->offset;
    n = n->parent;
  }
}

// Find the first entry at an index in [index, max] below @n, whose first index is @base.
void* find_in(const xa_node* n, unsigned long base, unsigned long index, unsigned long max, unsigned filter,
              unsigned long* found) {
  unsigned off = index > base ? slot_of(index - base, n->shift) : 0;
  if (index > base && ((index - base) >> n->shift) > kChunkMask) return nullptr;
  const unsigned last = max_slot(n->shift);
  const uint64_t marks = filter < XA_MAX_MARKS ? n->marks[filter].load(std::memory_order_acquire) : ~0ull;
  // The candidate slots, off..last, that carry the mark (all of them unfiltered), in order.
  static_assert(XA_CHUNK_SIZE == 64, "a node's marks are one 64-bit word");
  uint64_t todo = marks & (~0ull << off) & (~0ull >> (kChunkMask - last));
  for (; todo; todo &= todo - 1) {
    off = static_cast<unsigned>(__builtin_ctzll(todo));
    const unsigned long slot_base = base + (static_cast<unsigned long>(off) << n->shift);
    if (slot_base > max) return nullptr;
    sched_point(SchedPoint::kAtomicRead, &n->slots[off]);
    void* e = n->slots[off].load(std::memory_order_acquire);
    if (!e) continue;
    if (n->shift == 0) {
      *found = slot_base;
      return e;
    }
    if (void* r = find_in(static_cast<const xa_node*>(e), slot_base, index > slot_base ? index : slot_base, max,
                          filter, found))
      return r;
  }
  return nullptr;
}

void destroy_node(xa_node* n) {
  if (n->shift)
    for (auto& s : n->slots)
      if (auto* c = static_cast<xa_node*>(s.load(std::memory_order_relaxed))) destroy_node(c);
  delete n;
}

}  // namespace

xarray::~xarray() { xa_destroy(this); }

void* xa_load(const xarray* xa, unsigned long index) {
  RcuReadGuard rcu;
  xa_node* leaf = leaf_of(xa, index);
  if (!leaf) return nullptr;
  sched_point(SchedPoint::kAtomicRead, &leaf->slots[0]);
  return leaf->slots[slot_of(index, 0)].load(std::memory_order_acquire);
}

void* __xa_store(xarray* xa, unsigned long index, void* entry) {
  VM_BUG_ON(!(entry));
  xa_node* head = xa->xa_head.load(std::memory_order_relaxed);
  if (!head) {
    unsigned shift = 0;
    while (!covers(shift, index)) shift += XA_CHUNK_SHIFT;
    head = node_alloc(shift, nullptr, 0);
    sched_point(SchedPoint::kAtomicWrite, &xa->xa_head);
    xa->xa_head.store(head, std::memory_order_release);
  }
  // Grow upward until the top node covers @index; the old top becomes slot 0.
  while (!covers(head->shift, index)) {
    xa_node* top = node_alloc(head->shift + XA_CHUNK_SHIFT, nullptr, 0);
    top->slots[0].store(head, std::memory_order_relaxed);
    top->count = 1;
    for (unsigned m = 0; m < XA_MAX_MARKS; m++)
      if (head->marks[m].load(std::memory_order_relaxed)) top->marks[m].store(1, std::memory_order_relaxed);
    head->parent = top;
    head->offset = 0;
    sched_point(SchedPoint::kAtomicWrite, &xa->xa_head);
    xa->xa_head.store(top, std::memory_order_release);
    head = top;
  }
  xa_node* n = head;
  while (n->shift) {
    const unsigned off = slot_of(index, n->shift);
    auto* child = static_cast<xa_node*>(n->slots[off].load(std::memory_order_relaxed));
    if (!child) {
      child = node_alloc(n->shift - XA_CHUNK_SHIFT, n, off);
      sched_point(SchedPoint::kAtomicWrite, &n->slots[off]);
      n->slots[off].store(child, std::memory_order_release);
      n->count++;
    }
    n = child;
  }
  const unsigned off = slot_of(index, 0);
  sched_point(SchedPoint::kAtomicWrite, &n->slots[off]);
  void* old = n->slots[off].exchange(entry, std::memory_order_acq_rel);
  if (!old) n->count++;
  return old;
}

void* __xa_erase(xarray* xa, unsigned long index) {
  xa_node* n = leaf_of(xa, index);
  if (!n) return nullptr;
  const unsigned off = slot_of(index, 0);
  sched_point(SchedPoint::kAtomicWrite, &n->slots[off]);
  void* old = n->slots[off].exchange(nullptr, std::memory_order_acq_rel);
  if (!old) return nullptr;
  for (unsigned m = 0; m < XA_MAX_MARKS; m++) clear_mark_up(n, off, m);
  n->count--;
  // Free emptied nodes bottom-up; readers still inside them see only empty slots.
  while (n->count == 0) {
    xa_node* parent = n->parent;
    if (!parent) {
      sched_point(SchedPoint::kAtomicWrite, &xa->xa_head);
      xa->xa_head.store(nullptr, std::memory_order_release);
      call_rcu(&n->rcu, node_free_rcu);
      break;
    }
    sched_point(SchedPoint::kAtomicWrite, &parent->slots[n->offset]);
    parent->slots[n->offset].store(nullptr, std::memory_order_release);
    for (unsigned m = 0; m < XA_MAX_MARKS; m++) clear_mark_up(parent, n->offset, m);
    parent->count--;
    call_rcu(&n->rcu, node_free_rcu);
    n = parent;
  }
  return old;
}

void __xa_set_mark(xarray* xa, unsigned long index, xa_mark_t mark) {
  xa_node* n = leaf_of(xa, index);
  if (!n) return;
  unsigned bit = slot_of(index, 0);
  if (!n->slots[bit].load(std::memory_order_relaxed)) return;
  while (n) {
    sched_point(SchedPoint::kAtomicWrite, &n->marks[mark]);
    const uint64_t old = n->marks[mark].fetch_or(uint64_t{1} << bit, std::memory_order_release);
    if (old & (uint64_t{1} << bit)) return;  // already summarised above
    bit = n->offset;
    n = n->parent;
  }
}

void __xa_clear_mark(xarray* xa, unsigned long index, xa_mark_t mark) {
  xa_node* n = leaf_of(xa, index);
  if (!n) return;
  sched_point(SchedPoint::kAtomicWrite, &n->marks[mark]);
  clear_mark_up(n, slot_of(index, 0), mark);
}

bool xa_get_mark(const xarray* xa, unsigned long index, xa_mark_t mark) {
  RcuReadGuard rcu;
  xa_node* n = leaf_of(xa, index);
  if (!n) return false;
  sched_point(SchedPoint::kAtomicRead, &n->marks[mark]);
  return (n->marks[mark].load(std::memory_order_acquire) >> slot_of(index, 0)) & 1;
}

bool xa_marked(const xarray* xa, xa_mark_t mark) {
  RcuReadGuard rcu;
  xa_node* head = xa->xa_head.load(std::memory_order_acquire);
  return head && head->marks[mark].load(std::memory_order_acquire) != 0;
}

void* xa_find(const xarray* xa, unsigned long* indexp, unsigned long max, unsigned filter) {
  if (*indexp > max) return nullptr;
  RcuReadGuard rcu;
  xa_node* head = xa->xa_head.load(std::memory_order_acquire);
  if (!head) return nullptr;
  if (!covers(head->shift, *indexp)) return nullptr;
  unsigned long found = 0;
  void* e = find_in(head, 0, *indexp, max, filter, &found);
  if (e) *indexp = found;
  return e;
}

void xa_destroy(xarray* xa) {
  xa_node* head = xa->xa_head.exchange(nullptr, std::memory_order_acq_rel);
  if (head) destroy_node(head);
}

}  // namespace guplab
