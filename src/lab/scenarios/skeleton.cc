// skeleton.cc - the device, flusher and kswapd loops of the seed scenarios, once.
#include "lab/scenarios/skeleton.h"

#include <fmt/format.h>

#include "base/errno.h"
#include "lab/oracles.h"
#include "lab/scenario.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/mm_struct.h"

namespace guplab {

long frame_at(mm_struct* mm, unsigned long addr) {
  page* p = nullptr;
  mmap_read_lock(mm);
  // A pin, not get_user_pages(): under bias_all a FOLL_GET reference is a pin too.
  const long got = pin_user_pages_remote(mm, addr, 1, FOLL_NONE, &p, nullptr);
  mmap_read_unlock(mm);
  if (got != 1) return got < 0 ? got : -EFAULT;
  const long pfn = static_cast<long>(page_to_pfn(p));
  unpin_user_page(p);
  return pfn;
}

bool Skeleton::setup(const file_world_options& o, rdma_config cfg) {
  clock_ = ctx_.make<StampClock>();
  w_ = ctx_.make<FileWorld>();
  if (int err = w_->setup(ctx_, clock_, o)) {
    ctx_.found(Outcome::warn, fmt::format("setup failed: {}", errname(err)));
    return false;
  }
  script_ = ctx_.make<Script>(ctx_);
  dev_ = ctx_.make<RdmaDevice>(&ctx_.machine(), clock_, std::move(cfg));
  witness_ = ctx_.make<PinWitness>(ctx_, *script_);
  witness_->watch(dev_);
  return true;
}

void Skeleton::device(device_loop o) { tasks_.push_back(Task{Kind::device, std::move(o), {}, 1}); }

void Skeleton::flusher(kernel_loop o) { tasks_.push_back(Task{Kind::flusher, {}, std::move(o), 1}); }

void Skeleton::kswapd(kernel_loop o, unsigned scripted_passes) {
  tasks_.push_back(Task{Kind::kswapd, {}, std::move(o), scripted_passes});
}

void Skeleton::run() {
  ScenarioContext& ctx = ctx_;
  const bool scripted = ctx.params().scripted;
  int kernel_tasks = 0, device_tasks = 0;
  for (const Task& t : tasks_) (t.kind == Kind::device ? device_tasks : kernel_tasks)++;
  // Each side goes on while the other still works (Workers): the device while the
  // kernel tasks run, the kernel tasks while the device writes.
  auto* kernel = ctx.make<Workers>(kernel_tasks);
  auto* device = ctx.make<Workers>(device_tasks);
  FileWorld* w = w_;
  RdmaDevice* dev = dev_;
  for (const Task& t : tasks_) {
    if (t.kind == Kind::device) {
      const device_loop o = t.dev;
      ctx.spawn(
          dev->name(),
          [&ctx, dev, w, kernel, device, scripted, o] {
            if (int err = dev->reg_mr(w->addr(), w->npages())) {
              ctx.found(Outcome::warn, fmt::format("reg_mr failed: {}", errname(err)));
              return;
            }
            unsigned g = 0;
            do {
              dev->dma_write_all();
              if (!scripted) yield_some(o.yields);
            } while (!scripted && kernel->keep_going(++g));
            if (o.before_release) Script::pass(o.before_release);
            dev->dereg_mr(o.make_dirty);
            device->done();
          },
          w->mm());
      continue;
    }
    const kernel_loop o = t.kernel;
    const bool flush = t.kind == Kind::flusher;
    const unsigned passes = scripted ? t.scripted_passes : 1;
    ctx.spawn(flush ? "flush" : "kswapd", [w, kernel, device, scripted, o, flush, passes] {
      for (unsigned r = 0; scripted ? r < 1 : device->keep_going(r); r++) {
        if (o.begin) Script::pass(o.begin);
        const long res = flush ? w->writeback_pass(WB_SYNC_NONE) : static_cast<long>(w->reclaim(passes));
        if (o.after_pass) o.after_pass(r, res);
        if (o.end) Script::pass(o.end);
        if (!scripted) yield_some(o.yields);
      }
      kernel->done();
    });
  }
  ctx.join_all();
}

void Skeleton::finish() { sync_and_check(ctx_, *w_, *witness_, *dev_, w_->npages()); }

}  // namespace guplab
