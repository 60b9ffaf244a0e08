// pin_query_fallback.cc - page_maybe_dma_pinned()/folio_maybe_dma_pinned() for a program
// that links the mm core without the GUP implementation (mm/gup.cc).
//
// fork (page_try_dup_anon_rmap()) must ask whether a page may be DMA-pinned; the answer
// belongs to the pin designs, which live with GUP. These definitions are weak: when
// mm/gup.cc is linked its strong definitions replace them. Without it nothing in the
// program takes pins through GUP, but a test may still mark a page the way a design
// does, so this answers from the page's state per the machine's design, erring only
// toward "maybe pinned" as the contract allows:
//   get            - nothing is tracked: false;
//   bias           - seed 000: head _refcount >= GUP_PIN_COUNTING_BIAS (1024);
//   dma_count      - seed 002: PageDmaPinned;
//   fake_vma       - seed 003: a fake mapping counted in lab_private;
//   folio_pincount - upstream: _pincount of a large folio, the bias for a small one.
// Threading: lock-free reads; any task.
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/internal.h"
#include "mm/page_ref.h"

namespace guplab {

namespace {
constexpr int kPinCountingBias = 1024;  // seed 000's GUP_PIN_COUNTING_BIAS
}

__attribute__((weak)) bool folio_maybe_dma_pinned(folio* f) {
  switch (page_machine(f)->pin_design()) {
    case PinDesign::get:
      return false;
    case PinDesign::bias:
      return page_ref_count(f) >= kPinCountingBias;
    case PinDesign::dma_count:
      return PageDmaPinned(f);
    case PinDesign::fake_vma:
      return __atomic_load_n(&f->lab_private, __ATOMIC_ACQUIRE) != 0;
    case PinDesign::folio_pincount:
      if (folio_test_large(f)) return folio_int_read(&f[1]._pincount) > 0;
      return page_ref_count(f) >= kPinCountingBias;
  }
  return true;
}

__attribute__((weak)) bool page_maybe_dma_pinned(page* p) { return folio_maybe_dma_pinned(page_folio(p)); }

}  // namespace guplab
