// bvec.h - struct bio_vec and struct bvec_iter (include/linux/bvec.h), in seed 004's
// form: a bio_vec names its page by a page-frame number, and the top bit of that number
// (BVEC_PFN_GUP) records that the page came from get_user_pages() / pin_user_pages(),
// so that whoever releases the bio knows to unpin it rather than put_page() it.
//
// The pfn: the kernel's mem_map is global, so a pfn alone names a page. A guplab
// process may hold many machines, each with its own mem_map, so page_to_pfn() is local
// to a machine. bv_pfn therefore counts struct pages from address 0 (the kernel's
// SPARSEMEM_VMEMMAP formula, page = vmemmap + pfn, with vmemmap at 0): it names the
// page with no machine at hand, costs a shift each way, and leaves the top bit free,
// since user-space addresses are below 2^47. page_to_pfn(bvec_page(bv)) is the
// machine-local pfn.
//
// Every bio_vec covers part of one page (bv_offset + bv_len <= PAGE_SIZE): bio_add_page()
// never merges neighbouring pages, so the GUP bit stays exact per page.
//
// Threading: plain values, owned by whoever owns the bio.
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>

#include "base/bug.h"
#include "block/blk_types.h"
#include "mm/memory_model.h"
#include "mm/mm_types.h"

namespace guplab {

/** BVEC_PFN_GUP - bv_pfn's top bit: the page holds a GUP pin (seed 004). */
inline constexpr unsigned long BVEC_PFN_GUP = 1ul << (sizeof(unsigned long) * CHAR_BIT - 1);

struct bio_vec {
  unsigned long bv_pfn;  // bvec_pfn_of(page) | BVEC_PFN_GUP if pinned by GUP
  unsigned bv_len;       // bytes
  unsigned bv_offset;    // into the page
};
static_assert(sizeof(bio_vec) == 16);

/** bvec_pfn_of() - the bv_pfn naming @p (see the header comment). */
inline unsigned long bvec_pfn_of(const page* p) { return reinterpret_cast<uintptr_t>(p) / sizeof(page); }
/** bvec_page() - the page @bv covers. */
inline page* bvec_page(const bio_vec* bv) {
  return reinterpret_cast<page*>((bv->bv_pfn & ~BVEC_PFN_GUP) * sizeof(page));
}
/** bvec_is_gup() - did @bv's page come from GUP (release with unpin_user_page())? */
inline bool bvec_is_gup(const bio_vec* bv) { return (bv->bv_pfn & BVEC_PFN_GUP) != 0; }
/** bvec_set_page() - fill @bv. REQUIRES: @off + @len <= PAGE_SIZE. */
inline void bvec_set_page(bio_vec* bv, page* p, unsigned len, unsigned off, bool is_gup) {
  bv->bv_pfn = bvec_pfn_of(p) | (is_gup ? BVEC_PFN_GUP : 0);
  bv->bv_len = len;
  bv->bv_offset = off;
}
/** bvec_virt() - @bv's bytes in the machine's arena (the page frame + offset). */
inline char* bvec_virt(const bio_vec* bv) { return static_cast<char*>(page_address(bvec_page(bv))) + bv->bv_offset; }

/**
 * struct bvec_iter - a position in an array of bio_vecs: what is left of an I/O.
 * A bio's bi_iter says which bytes it still covers; splitting a bio advances it.
 */
struct bvec_iter {
  sector_t bi_sector = 0;     // device sector of the current position
  unsigned bi_size = 0;       // bytes left
  unsigned bi_idx = 0;        // current bio_vec
  unsigned bi_bvec_done = 0;  // bytes of the current bio_vec already done
};

/** bvec_iter_bvec() - the segment at @iter: the rest of the current bio_vec, clipped to bi_size. */
inline bio_vec bvec_iter_bvec(const bio_vec* bvecs, const bvec_iter& iter) {
  const bio_vec& cur = bvecs[iter.bi_idx];
  bio_vec bv;
  bv.bv_pfn = cur.bv_pfn;
  bv.bv_offset = cur.bv_offset + iter.bi_bvec_done;
  bv.bv_len = std::min(iter.bi_size, cur.bv_len - iter.bi_bvec_done);
  return bv;
}

/**
 * bvec_iter_advance() - move @iter forward by @bytes.
 * Returns false (and WARNs, leaving the iterator at the end) if @bytes is more than is left.
 */
inline bool bvec_iter_advance(const bio_vec* bvecs, bvec_iter* iter, unsigned bytes) {
  if (WARN_ON_ONCE(bytes > iter->bi_size)) {
    iter->bi_size = 0;
    return false;
  }
  iter->bi_size -= bytes;
  bytes += iter->bi_bvec_done;
  while (bytes && bytes >= bvecs[iter->bi_idx].bv_len) {
    bytes -= bvecs[iter->bi_idx].bv_len;
    iter->bi_idx++;
  }
  iter->bi_bvec_done = bytes;
  return true;
}

}  // namespace guplab
