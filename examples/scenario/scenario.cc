// scenario.cc - an out-of-tree scenario: a device keeps writing a page after the process
// dropped it with MADV_DONTNEED. The pin must keep the frame alive (no write into a freed
// frame), a tracking design must still report it pinned, and the process sees a fresh zero
// page: the device's writes are discarded by the process's own choice, not lost.
#include <fmt/format.h>
#include <sys/mman.h>

#include <cstring>

#include "lab/scenario.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/madvise.h"
#include "mm/memory_model.h"
#include "mm/mmap.h"
#include "mm/page_ref.h"
#include "mm/pin_design.h"
#include "mm/uaccess.h"

namespace {
using namespace guplab;

class DmaAfterDontneed final : public Scenario {
 public:
  const char* name() const override { return "dma-after-dontneed"; }
  const char* description() const override { return "a device writes a pinned page the process dropped with MADV_DONTNEED"; }
  Outcome expected(PinDesign, WritebackPolicy) const override { return Outcome::ok; }
  void run(ScenarioContext& ctx) const override {
    mm_struct* mm = mm_alloc(&ctx.machine());
    current()->mm = mm;
    const auto a = static_cast<unsigned long>(
        vm_mmap(mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0));
    const char one = 1;
    (void)uaccess_write(mm, a, &one, 1);
    page* p = nullptr;
    if (pin_user_pages_fast(a, 1, FOLL_WRITE | FOLL_LONGTERM, &p) != 1) return ctx.found(Outcome::warn, "pin failed");
    (void)do_madvise(mm, a, PAGE_SIZE, MADV_DONTNEED);
    if (page_ref_count(p) < 1) ctx.found(Outcome::oops, "the pinned frame was freed by MADV_DONTNEED");
    if (pin_design_props(ctx.params().design).tracks_pins && !page_maybe_dma_pinned(p))
      ctx.found(Outcome::false_negative, "the pin is not seen after MADV_DONTNEED");
    std::memset(page_address(p), 0x5a, PAGE_SIZE);  // the device's write, after the drop
    char seen = 0;
    (void)uaccess_read(mm, a, &seen, 1);
    ctx.note(fmt::format("process reads {:#x} (a fresh zero page: it discarded the device's data)", seen));
    if (seen != 0) ctx.found(Outcome::warn, "the process still sees the dropped page");
    unpin_user_pages_dirty_lock(&p, 1, true);
    current()->mm = nullptr;
    mmput(mm);
  }
};

}  // namespace

GUPLAB_REGISTER_SCENARIO(DmaAfterDontneed)
