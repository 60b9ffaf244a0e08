// pgtable.h - page-table entries and walking: 4 levels (pgd, pud, pmd, pte) in frames
// of the machine's arena, x86-64 style.
//
// Every entry is a 64-bit atomic word in a page-table page (a 4 KiB arena frame with
// PG_pgtable set); an entry holds a pfn and permission bits. A pmd (or pud) entry with
// _PAGE_PSE maps a 2 MiB (1 GiB) folio directly. Updates happen under the mm's
// page_table_lock; the lockless GUP-fast walk reads entries with READ_ONCE inside an RCU
// read-side section, and page-table pages are freed only through call_rcu(), so such a
// walker never reads a freed table.
//
// Threading: entries are atomics; writers hold mm->page_table_lock (or have the mm to
// themselves); lockless readers hold rcu_read_lock().
#pragma once
#include <atomic>
#include <cstdint>

#include "base/atomic.h"
#include "mm/memory_model.h"
#include "mm/mm_types.h"

namespace guplab {

using pteval_t = uint64_t;
/** An entry's storage: one atomic word in a page-table page. */
using pgtable_slot = std::atomic<pteval_t>;

struct pte_t { pteval_t val; };
struct pmd_t { pteval_t val; };
struct pud_t { pteval_t val; };
struct pgd_t { pteval_t val; };

// Entry bits (x86-64 layout; _PAGE_SPECIAL is a software bit).
inline constexpr pteval_t _PAGE_PRESENT = 1ull << 0;
inline constexpr pteval_t _PAGE_RW = 1ull << 1;
inline constexpr pteval_t _PAGE_USER = 1ull << 2;
inline constexpr pteval_t _PAGE_ACCESSED = 1ull << 5;
inline constexpr pteval_t _PAGE_DIRTY = 1ull << 6;
inline constexpr pteval_t _PAGE_PSE = 1ull << 7;      // huge mapping at pmd/pud level
inline constexpr pteval_t _PAGE_SPECIAL = 1ull << 9;  // no refcounted struct page (zero page)
inline constexpr pteval_t _PAGE_SOFTW_UFFD = 1ull << 10;  // userfaultfd write-protect (mm/userfaultfd.h)
inline constexpr pteval_t _PAGE_DEVMAP = 1ull << 58;      // maps a ZONE_DEVICE page (fs-DAX; mm/memremap.h)
inline constexpr pteval_t _PAGE_PFN_MASK = ((1ull << 52) - 1) & ~((1ull << PAGE_SHIFT) - 1);
inline constexpr pteval_t _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED;

/** pgprot_t - protection bits derived from a vma's flags. */
struct pgprot_t { pteval_t val; };

inline unsigned long pgd_index(unsigned long a) { return (a >> PGDIR_SHIFT) & (PTRS_PER_TABLE - 1); }
inline unsigned long pud_index(unsigned long a) { return (a >> PUD_SHIFT) & (PTRS_PER_TABLE - 1); }
inline unsigned long pmd_index(unsigned long a) { return (a >> PMD_SHIFT) & (PTRS_PER_TABLE - 1); }
inline unsigned long pte_index(unsigned long a) { return (a >> PAGE_SHIFT) & (PTRS_PER_TABLE - 1); }

// ---- values ----------------------------------------------------------------------
inline unsigned long pteval_pfn(pteval_t v) { return (v & _PAGE_PFN_MASK) >> PAGE_SHIFT; }
inline bool pte_none(pte_t p) { return p.val == 0; }
inline bool pte_present(pte_t p) { return p.val & _PAGE_PRESENT; }
inline bool pte_write(pte_t p) { return p.val & _PAGE_RW; }
inline bool pte_dirty(pte_t p) { return p.val & _PAGE_DIRTY; }
inline bool pte_young(pte_t p) { return p.val & _PAGE_ACCESSED; }
inline bool pte_special(pte_t p) { return p.val & _PAGE_SPECIAL; }
/** pte_user() - user-accessible; PROT_NONE entries stay present without it. */
inline bool pte_user(pte_t p) { return p.val & _PAGE_USER; }
inline unsigned long pte_pfn(pte_t p) { return pteval_pfn(p.val); }
inline pte_t pte_mkwrite(pte_t p) { return {p.val | _PAGE_RW}; }
inline pte_t pte_wrprotect(pte_t p) { return {p.val & ~_PAGE_RW}; }
inline pte_t pte_mkdirty(pte_t p) { return {p.val | _PAGE_DIRTY}; }
inline pte_t pte_mkclean(pte_t p) { return {p.val & ~_PAGE_DIRTY}; }
inline pte_t pte_mkyoung(pte_t p) { return {p.val | _PAGE_ACCESSED}; }
inline pte_t pte_mkold(pte_t p) { return {p.val & ~_PAGE_ACCESSED}; }
inline pte_t pte_mkspecial(pte_t p) { return {p.val | _PAGE_SPECIAL}; }
inline pte_t pte_mkdevmap(pte_t p) { return {p.val | _PAGE_DEVMAP}; }
inline bool pte_devmap(pte_t p) { return p.val & _PAGE_DEVMAP; }
/** pte_uffd_wp() etc. - userfaultfd write protection (with _PAGE_RW clear while set). */
inline bool pte_uffd_wp(pte_t p) { return p.val & _PAGE_SOFTW_UFFD; }
inline pte_t pte_mkuffd_wp(pte_t p) { return {(p.val | _PAGE_SOFTW_UFFD) & ~_PAGE_RW}; }
inline pte_t pte_clear_uffd_wp(pte_t p) { return {p.val & ~_PAGE_SOFTW_UFFD}; }
inline pte_t pfn_pte(unsigned long pfn, pgprot_t prot) { return {(static_cast<pteval_t>(pfn) << PAGE_SHIFT) | prot.val}; }
inline pte_t mk_pte(const page* p, pgprot_t prot) { return pfn_pte(page_to_pfn(p), prot); }
inline bool pte_same(pte_t a, pte_t b) { return a.val == b.val; }

inline bool pmd_none(pmd_t p) { return p.val == 0; }
inline bool pmd_present(pmd_t p) { return p.val & _PAGE_PRESENT; }
/** pmd_leaf() - a pmd that maps a 2 MiB folio rather than pointing at a pte table. */
inline bool pmd_leaf(pmd_t p) { return (p.val & (_PAGE_PRESENT | _PAGE_PSE)) == (_PAGE_PRESENT | _PAGE_PSE); }
inline bool pmd_trans_huge(pmd_t p) { return pmd_leaf(p); }
inline bool pmd_write(pmd_t p) { return p.val & _PAGE_RW; }
inline bool pmd_dirty(pmd_t p) { return p.val & _PAGE_DIRTY; }
inline bool pmd_special(pmd_t p) { return p.val & _PAGE_SPECIAL; }
inline bool pmd_user(pmd_t p) { return p.val & _PAGE_USER; }
inline unsigned long pmd_pfn(pmd_t p) { return pteval_pfn(p.val); }
inline pmd_t pmd_mkwrite(pmd_t p) { return {p.val | _PAGE_RW}; }
inline pmd_t pmd_wrprotect(pmd_t p) { return {p.val & ~_PAGE_RW}; }
inline pmd_t pmd_mkdirty(pmd_t p) { return {p.val | _PAGE_DIRTY}; }
inline pmd_t pmd_mkclean(pmd_t p) { return {p.val & ~_PAGE_DIRTY}; }
inline pmd_t pmd_mkyoung(pmd_t p) { return {p.val | _PAGE_ACCESSED}; }
inline pmd_t pfn_pmd(unsigned long pfn, pgprot_t prot) { return {(static_cast<pteval_t>(pfn) << PAGE_SHIFT) | prot.val | _PAGE_PSE}; }
inline pmd_t mk_huge_pmd(const page* head, pgprot_t prot) { return pfn_pmd(page_to_pfn(head), prot); }
inline bool pmd_same(pmd_t a, pmd_t b) { return a.val == b.val; }

inline bool pud_none(pud_t p) { return p.val == 0; }
inline bool pud_present(pud_t p) { return p.val & _PAGE_PRESENT; }
inline bool pud_leaf(pud_t p) { return (p.val & (_PAGE_PRESENT | _PAGE_PSE)) == (_PAGE_PRESENT | _PAGE_PSE); }
inline bool pud_write(pud_t p) { return p.val & _PAGE_RW; }
inline unsigned long pud_pfn(pud_t p) { return pteval_pfn(p.val); }
inline bool pud_same(pud_t a, pud_t b) { return a.val == b.val; }
inline bool pud_dirty(pud_t p) { return p.val & _PAGE_DIRTY; }
inline pud_t pud_mkwrite(pud_t p) { return {p.val | _PAGE_RW}; }
inline pud_t pud_wrprotect(pud_t p) { return {p.val & ~_PAGE_RW}; }
inline pud_t pud_mkdirty(pud_t p) { return {p.val | _PAGE_DIRTY}; }
inline pud_t pud_mkyoung(pud_t p) { return {p.val | _PAGE_ACCESSED}; }
/** pfn_pud() - a pud leaf mapping the 1 GiB folio at @pfn. */
inline pud_t pfn_pud(unsigned long pfn, pgprot_t prot) { return {(static_cast<pteval_t>(pfn) << PAGE_SHIFT) | prot.val | _PAGE_PSE}; }

inline bool pgd_none(pgd_t p) { return p.val == 0; }
inline bool pgd_present(pgd_t p) { return p.val & _PAGE_PRESENT; }
inline unsigned long pgd_pfn(pgd_t p) { return pteval_pfn(p.val); }

// ---- slots -------------------------------------------------------------------------
/** ptep_get() etc. - one READ_ONCE of an entry. S: see base/sched.h. */
template <typename S = SchedCheck>
inline pte_t ptep_get(const pgtable_slot* s) { return {READ_ONCE<S>(*s)}; }
template <typename S = SchedCheck>
inline pmd_t pmdp_get(const pgtable_slot* s) { return {READ_ONCE<S>(*s)}; }
template <typename S = SchedCheck>
inline pud_t pudp_get(const pgtable_slot* s) { return {READ_ONCE<S>(*s)}; }
template <typename S = SchedCheck>
inline pgd_t pgdp_get(const pgtable_slot* s) { return {READ_ONCE<S>(*s)}; }
/** set_pte() etc. - publish an entry. REQUIRES: page_table_lock held (or private mm). */
inline void set_pte(pgtable_slot* s, pte_t v) { WRITE_ONCE(*s, v.val); }
inline void set_pmd(pgtable_slot* s, pmd_t v) { WRITE_ONCE(*s, v.val); }
inline void set_pud(pgtable_slot* s, pud_t v) { WRITE_ONCE(*s, v.val); }
inline void set_pgd(pgtable_slot* s, pgd_t v) { WRITE_ONCE(*s, v.val); }
/** ptep_get_and_clear() - atomically take an entry out (a racing hardware A/D update is kept). */
inline pte_t ptep_get_and_clear(pgtable_slot* s) { return {xchg(*s, pteval_t{0})}; }
inline pmd_t pmdp_get_and_clear(pgtable_slot* s) { return {xchg(*s, pteval_t{0})}; }
inline pud_t pudp_get_and_clear(pgtable_slot* s) { return {xchg(*s, pteval_t{0})}; }

/** ptep_set_wrprotect() - atomically clear _PAGE_RW of a live entry (fork, mprotect). */
inline void ptep_set_wrprotect(pgtable_slot* s) {
  sched_point(SchedPoint::kAtomicWrite, s);
  s->fetch_and(~_PAGE_RW, std::memory_order_seq_cst);
}
inline void pmdp_set_wrprotect(pgtable_slot* s) { ptep_set_wrprotect(s); }
/** ptep_set_bits() - atomically set @bits (what the MMU does with _PAGE_ACCESSED/_PAGE_DIRTY). */
inline void ptep_set_bits(pgtable_slot* s, pteval_t bits) {
  sched_point(SchedPoint::kAtomicWrite, s);
  s->fetch_or(bits, std::memory_order_seq_cst);
}

/** table_slots() - the 512 slots of the page-table page in frame @pfn. */
inline pgtable_slot* table_slots(const PhysMem& mem, unsigned long pfn) {
  return reinterpret_cast<pgtable_slot*>(page_address(mem.pfn_to_page(pfn)));
}
static_assert(sizeof(pgtable_slot) == sizeof(pteval_t));

/** pgd_offset_pfn() .. pte_offset() - the slot for @addr one level down (lockless-safe). */
inline pgtable_slot* pgd_offset_pfn(const PhysMem& mem, unsigned long pgd_pfn, unsigned long addr) {
  return table_slots(mem, pgd_pfn) + pgd_index(addr);
}
inline pgtable_slot* pud_offset(const PhysMem& mem, pgd_t pgd, unsigned long addr) {
  return table_slots(mem, pgd_pfn(pgd)) + pud_index(addr);
}
inline pgtable_slot* pmd_offset(const PhysMem& mem, pud_t pud, unsigned long addr) {
  return table_slots(mem, pud_pfn(pud)) + pmd_index(addr);
}
inline pgtable_slot* pte_offset(const PhysMem& mem, pmd_t pmd, unsigned long addr) {
  return table_slots(mem, pmd_pfn(pmd)) + pte_index(addr);
}

}  // namespace guplab
