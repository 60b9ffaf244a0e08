// page_ref.h - the page reference count API (_refcount), as include/linux/page_ref.h.
//
// These act on the page given, not on its head: callers that mean "the folio" pass the
// head (get_page()/put_page() in mm/swap.h do that).
// Threading: any task; atomic.
#pragma once
#include "mm/mm_types.h"

namespace guplab {

// S: the scheduling-point policy (base/sched.h); callers that did not resolve it leave
// the default.
template <typename S = SchedCheck>
inline int page_ref_count(const page* p) { return atomic_read<S>(&p->_refcount); }
inline void set_page_count(page* p, int v) { atomic_set(&p->_refcount, v); }
inline void init_page_count(page* p) { set_page_count(p, 1); }
inline void page_ref_add(page* p, int nr) { atomic_add(nr, &p->_refcount); }
inline void page_ref_sub(page* p, int nr) { atomic_sub(nr, &p->_refcount); }
inline void page_ref_inc(page* p) { atomic_inc(&p->_refcount); }
inline void page_ref_dec(page* p) { atomic_dec(&p->_refcount); }
inline int page_ref_add_return(page* p, int nr) { return atomic_add_return(nr, &p->_refcount); }
inline int page_ref_sub_return(page* p, int nr) { return atomic_sub_return(nr, &p->_refcount); }
inline int page_ref_inc_return(page* p) { return atomic_inc_return(&p->_refcount); }
template <typename S = SchedCheck>
inline bool page_ref_sub_and_test(page* p, int nr) { return atomic_sub_and_test<S>(nr, &p->_refcount); }
inline bool page_ref_dec_and_test(page* p) { return atomic_dec_and_test(&p->_refcount); }
inline int page_ref_dec_return(page* p) { return atomic_dec_return(&p->_refcount); }
/** page_ref_add_unless() - add @nr unless the count is @u; true if added. */
inline bool page_ref_add_unless(page* p, int nr, int u) { return atomic_add_unless(&p->_refcount, nr, u); }
/** page_ref_freeze() - set the count to 0 iff it is exactly @count. */
inline bool page_ref_freeze(page* p, int count) { return atomic_cmpxchg(&p->_refcount, count, 0) == count; }
inline void page_ref_unfreeze(page* p, int count) { atomic_set(&p->_refcount, count); }

/** get_page_unless_zero() - take a reference unless the page is being freed. */
inline bool get_page_unless_zero(page* p) { return page_ref_add_unless(p, 1, 0); }

inline int page_mapcount_raw(const page* p) { return atomic_read(&p->_mapcount) + 1; }

}  // namespace guplab
