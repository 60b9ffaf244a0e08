// xarray.h - struct xarray: the page cache's index (lib/xarray.c, cut down).
//
// A 64-way radix tree mapping an unsigned long index to a non-null pointer, with three
// marks per entry (XA_MARK_0..2: the page cache's DIRTY, WRITEBACK and TOWRITE tags).
// Every node keeps, per mark, one bit per slot saying "this entry, or something below
// this slot, has the mark", so a marked lookup skips unmarked subtrees.
//
// Readers (xa_load(), xa_find(), xa_get_mark()) take no lock: they run under
// rcu_read_lock() (taken inside), every slot and mark word is an atomic, a node is
// published only once it is fully built, and a node unlinked by a writer is freed only
// after a grace period. A reader therefore sees each slot as it was before or after a
// store, never a torn or freed one; an entry it returns may already have been removed,
// so a reader that wants to keep it takes a reference and re-checks the slot (the page
// cache's speculative lookup, mm/filemap.h).
//
// Writers (the __xa_* functions) hold xa_lock. Stores allocate nodes with the host
// allocator (never page frames: the index is bookkeeping, not memory the model
// measures). The tree grows upward as larger indices are stored; emptied nodes below
// the top are freed (after RCU); the top node goes when the tree becomes empty.
//
// Threading: as above. xa_destroy() only when nobody can reach the array any more.
#pragma once
#include <atomic>
#include <cstdint>

#include "base/rcu.h"
#include "base/spinlock.h"
#include "base/thread_annotations.h"

namespace guplab {

enum xa_mark_t : unsigned { XA_MARK_0 = 0, XA_MARK_1 = 1, XA_MARK_2 = 2 };
inline constexpr unsigned XA_MAX_MARKS = 3;
/** XA_PRESENT - the xa_find() filter meaning "any entry" rather than a mark. */
inline constexpr unsigned XA_PRESENT = 8;

inline constexpr unsigned XA_CHUNK_SHIFT = 6;
inline constexpr unsigned XA_CHUNK_SIZE = 1u << XA_CHUNK_SHIFT;

struct xa_node {
  std::atomic<void*> slots[XA_CHUNK_SIZE];        // entries (shift 0) or child nodes
  std::atomic<uint64_t> marks[XA_MAX_MARKS];      // one bit per slot, per mark
  xa_node* parent = nullptr;                      // writers only (xa_lock)
  unsigned char shift = 0;                        // immutable: index bits below this level
  unsigned char offset = 0;                       // slot in the parent (xa_lock)
  unsigned count = 0;                             // non-null slots (xa_lock)
  rcu_head rcu;
};

struct xarray {
  xarray() { spin_lock_init(&xa_lock, "xa_lock"); }
  ~xarray();
  xarray(const xarray&) = delete;
  xarray& operator=(const xarray&) = delete;

  mutable spinlock_t xa_lock;
  std::atomic<xa_node*> xa_head{nullptr};
};

/** xa_load() - the entry at @index, or nullptr. Lockless (RCU inside). */
void* xa_load(const xarray* xa, unsigned long index);
/**
 * __xa_store() - store non-null @entry at @index, replacing what was there (its marks
 * are kept). Returns the old entry or nullptr. REQUIRES: xa_lock held; @entry != nullptr.
 */
void* __xa_store(xarray* xa, unsigned long index, void* entry) REQUIRES(xa->xa_lock);
/** __xa_erase() - remove the entry at @index and its marks. Returns it, or nullptr. */
void* __xa_erase(xarray* xa, unsigned long index) REQUIRES(xa->xa_lock);
/** __xa_set_mark() - mark the entry at @index (nothing if there is none). */
void __xa_set_mark(xarray* xa, unsigned long index, xa_mark_t mark) REQUIRES(xa->xa_lock);
/** __xa_clear_mark() - unmark the entry at @index. */
void __xa_clear_mark(xarray* xa, unsigned long index, xa_mark_t mark) REQUIRES(xa->xa_lock);
/** xa_get_mark() - does the entry at @index have @mark? Lockless. */
bool xa_get_mark(const xarray* xa, unsigned long index, xa_mark_t mark);
/** xa_marked() - does any entry have @mark? Lockless. */
bool xa_marked(const xarray* xa, xa_mark_t mark);
/**
 * xa_find() - the first entry at an index in [*@indexp, @max] that has @filter (a mark,
 * or XA_PRESENT for any entry); *@indexp is set to its index. Returns nullptr (and
 * leaves *@indexp alone) if there is none. Lockless (RCU inside).
 */
void* xa_find(const xarray* xa, unsigned long* indexp, unsigned long max, unsigned filter);
/** xa_empty() - no entries at all. Lockless. */
inline bool xa_empty(const xarray* xa) { return xa->xa_head.load(std::memory_order_acquire) == nullptr; }
/** xa_destroy() - free every node now. REQUIRES: no reader or writer can reach @xa. */
void xa_destroy(xarray* xa);

}  // namespace guplab
