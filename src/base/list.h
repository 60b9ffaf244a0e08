// list.h - the kernel's intrusive doubly linked list (struct list_head).
// Threading: none of its own; callers hold whatever lock guards the list.
#pragma once
#include <cassert>

namespace guplab {

struct list_head {
  list_head* next;
  list_head* prev;
};

inline void INIT_LIST_HEAD(list_head* h) { h->next = h->prev = h; }
inline bool list_empty(const list_head* h) { return h->next == h; }

inline void list_add_between(list_head* n, list_head* prev, list_head* next) {
  next->prev = n;
  n->next = next;
  n->prev = prev;
  prev->next = n;
}
/** list_add() - insert @n right after @head (stack order). */
inline void list_add(list_head* n, list_head* head) { list_add_between(n, head, head->next); }
/** list_add_tail() - insert @n before @head (queue order). */
inline void list_add_tail(list_head* n, list_head* head) { list_add_between(n, head->prev, head); }
/** list_del() - unlink @e; poisons it so a second delete is caught. */
inline void list_del(list_head* e) {
  assert(e->next && e->prev);
  e->next->prev = e->prev;
  e->prev->next = e->next;
  e->next = nullptr;
  e->prev = nullptr;
}
inline void list_del_init(list_head* e) {
  e->next->prev = e->prev;
  e->prev->next = e->next;
  INIT_LIST_HEAD(e);
}
inline void list_move_tail(list_head* e, list_head* head) {
  e->next->prev = e->prev;
  e->prev->next = e->next;
  list_add_tail(e, head);
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)
#define list_last_entry(head, type, member) list_entry((head)->prev, type, member)

}  // namespace guplab
