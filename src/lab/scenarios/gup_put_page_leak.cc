// gup_put_page_leak.cc - seed 000 as posted, and the caller it forgot. A legacy driver
// (written before put_user_page() existed: an old capture driver, say) takes references
// on a user buffer with get_user_pages(FOLL_WRITE) - FOLL_GET semantics - fills it as
// its device would, and releases the pages with put_page(), as every such caller did.
// Seed 000 makes every get_user_pages*() add GUP_PIN_COUNTING_BIAS and requires
// put_user_page() for the release; put_page() takes 1 of the 1024 off, so each page is
// left with GUP_PIN_COUNTING_BIAS - 1 extra references, looks pinned forever, and is
// never freed. Upstream avoided this by splitting FOLL_PIN (pin_user_pages(), released
// with unpin_user_page()) from FOLL_GET (get_user_pages(), still put_page()).
//
// Tasks: the driver ("legacy0", in the process's mm); the body checks each page's
// refcount after the release (refcount oracle: anonymous pages mapped once must be
// back at 1), then the process exits and the frame oracle counts the frames not free.
// The generic pin oracle also fires under bias_all: the GUP counted pins that
// put_page() never released. There is nothing to order: scripted and unscripted runs
// are the same.
//
// Predictions: leak under bias_all (the only design without the FOLL_GET/FOLL_PIN
// split, kGetIsPin); ok under every other design, where FOLL_GET is a plain reference
// that put_page() balances. Writeback policies do not matter (anonymous memory).
#include <fmt/format.h>
#include <sys/mman.h>

#include <cstring>

#include "base/errno.h"
#include "base/rcu.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/skeleton.h"
#include "lab/scenarios/world_checks.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/memory_model.h"
#include "mm/mm_struct.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/page_ref.h"
#include "mm/pin.h"
#include "mm/swap.h"
#include "mm/uaccess.h"

namespace guplab {

namespace {

constexpr unsigned long kPages = 4;

class GupPutPageLeak final : public Scenario {
 public:
  const char* name() const override { return "gup-put-page-leak"; }
  const char* description() const override {
    return "seed 000 as posted: a legacy driver releases get_user_pages() pages with put_page(), not "
           "put_user_page(): 1023 references left behind";
  }
  MachineConfig config(const ScenarioParams&) const override { return scenario_machine(); }
  Outcome expected(PinDesign d, WritebackPolicy) const override {
    return pin_design_props(d).get_is_pin ? Outcome::leak : Outcome::ok;
  }
  void run(ScenarioContext& ctx) const override;
};

/** The process; freed without locks if the run ended early. */
struct Process : AnonProcess {
  page* pages[kPages] = {};
  long got = 0;
};

// The legacy driver: get_user_pages(FOLL_WRITE), "DMA" into the pages, put_page().
void legacy_driver(ScenarioContext& ctx, Process* proc) NO_THREAD_SAFETY_ANALYSIS {
  mmap_read_lock(proc->mm);
  proc->got = get_user_pages(proc->addr, kPages, FOLL_WRITE, proc->pages);
  mmap_read_unlock(proc->mm);
  if (proc->got != static_cast<long>(kPages)) {
    ctx.found(Outcome::warn, fmt::format("get_user_pages: {}", proc->got < 0 ? errname(static_cast<int>(proc->got))
                                                                           : std::to_string(proc->got) + " pages"));
    if (proc->got < 0) proc->got = 0;
  }
  for (long i = 0; i < proc->got; i++) {
    std::memset(page_address(proc->pages[i]), 0x5a, PAGE_SIZE);  // the device's write
    set_page_dirty_lock(proc->pages[i]);
  }
  ctx.note(fmt::format("legacy0: filled {} pages, releasing them with put_page()", proc->got));
  for (long i = 0; i < proc->got; i++) put_page(proc->pages[i]);
}

void GupPutPageLeak::run(ScenarioContext& ctx) const {
  auto* proc = ctx.make<Process>();
  if (!proc->setup(ctx, kPages)) return;
  const char zero = 0;
  for (unsigned long i = 0; i < kPages; i++)
    if (int err = uaccess_write(proc->mm, proc->addr + (i << PAGE_SHIFT), &zero, 1))
      ctx.found(Outcome::warn, fmt::format("fault-in: {}", errname(err)));

  task_struct* t = ctx.spawn("legacy0", [&ctx, proc] { legacy_driver(ctx, proc); }, proc->mm);
  ctx.join(t);

  // Refcount oracle: each page is anonymous, mapped once, no longer in the driver's
  // hands: one reference.
  long extra = 0;
  for (long i = 0; i < proc->got; i++) {
    const int rc = page_ref_count(page_folio(proc->pages[i]));
    if (rc != 1) {
      ctx.found(Outcome::leak,
                fmt::format("page {} has refcount {} after put_page(), 1 expected: {} references left behind{}", i, rc,
                            rc - 1,
                            rc - 1 == GUP_PIN_COUNTING_BIAS - 1 ? " (GUP_PIN_COUNTING_BIAS - 1: the bias get_user_pages() "
                                                                  "added, less the 1 put_page() took)"
                                                                : ""));
      extra += rc - 1;
    }
    if (page_maybe_dma_pinned(proc->pages[i]))
      ctx.note(fmt::format("page {} still looks pinned (page_maybe_dma_pinned)", i));
  }
  if (!extra && proc->got)
    ctx.found(Outcome::ok, fmt::format("{} pages back at refcount 1 after put_page()", proc->got));

  // Frame oracle: the process exits; every frame it used must be free again.
  proc->exit();
  if (check_frames_free(ctx, "the process exited")) ctx.found(Outcome::ok, "every page frame free after the process exited");
}

}  // namespace

const Scenario* gup_put_page_leak_scenario() {
  static const GupPutPageLeak kScenario;
  return &kScenario;
}

}  // namespace guplab
