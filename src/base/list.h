// list.h - the kernel's intrusive doubly linked list (struct list_head).
// Threading: none of its own; callers hold whatever lock guards the list. As in the
// kernel (WRITE_ONCE in __list_add/__list_del), every store to ->next is a single
// atomic store: struct page overlays compound_head on lru.next, and compound_head() is
// read locklessly while a neighbour on an LRU or free list is linked or unlinked.
#pragma once
#include "base/bug.h"

namespace guplab {

struct list_head {
  list_head* next;
  list_head* prev;
};

/** list_set_next() - WRITE_ONCE(e->next, n). */
inline void list_set_next(list_head* e, list_head* n) { __atomic_store_n(&e->next, n, __ATOMIC_RELAXED); }

inline void INIT_LIST_HEAD(list_head* h) {
  list_set_next(h, h);
  h->prev = h;
}
inline bool list_empty(const list_head* h) { return h->next == h; }

inline void list_add_between(list_head* n, list_head* prev, list_head* next) {
  next->prev = n;
  list_set_next(n, next);
  n->prev = prev;
  list_set_next(prev, n);
}
/** list_add() - insert @n right after @head (stack order). */
inline void list_add(list_head* n, list_head* head) { list_add_between(n, head, head->next); }
/** list_add_tail() - insert @n before @head (queue order). */
inline void list_add_tail(list_head* n, list_head* head) { list_add_between(n, head->prev, head); }
/** list_del() - unlink @e; poisons it so a second delete is caught. */
inline void list_del(list_head* e) {
  GUPLAB_CHECK(e->next && e->prev);
  e->next->prev = e->prev;
  list_set_next(e->prev, e->next);
  list_set_next(e, nullptr);
  e->prev = nullptr;
}
inline void list_del_init(list_head* e) {
  e->next->prev = e->prev;
  list_set_next(e->prev, e->next);
  INIT_LIST_HEAD(e);
}
inline void list_move_tail(list_head* e, list_head* head) {
  e->next->prev = e->prev;
  list_set_next(e->prev, e->next);
  list_add_tail(e, head);
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)
#define list_last_entry(head, type, member) list_entry((head)->prev, type, member)

}  // namespace guplab
