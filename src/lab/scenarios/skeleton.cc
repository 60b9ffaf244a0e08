// skeleton.cc - the device, flusher and kswapd loops of the seed scenarios, once.
#include "lab/scenarios/skeleton.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>

#include <string_view>

#include "base/bug.h"
#include "base/errno.h"
#include "lab/oracles.h"
#include "lab/scenario.h"
#include "lab/scenarios/common.h"
#include "lab/scenarios/world_checks.h"
#include "lab/script.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/mm_struct.h"
#include "base/rwsem.h"
#include "base/thread_annotations.h"
#include "block/genhd.h"
#include "block/ramdisk.h"
#include "fs/file.h"
#include "mm/fork.h"
#include "mm/mmap.h"

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
  if (!setup_world(o)) return false;
  setup_device(std::move(cfg));
  return true;
}

bool Skeleton::setup_world(const file_world_options& o) {
  clock_ = ctx_.make<StampClock>();
  w_ = ctx_.make<FileWorld>();
  if (int err = w_->setup(ctx_, clock_, o)) {
    ctx_.found(Outcome::warn, fmt::format("setup failed: {}", errname(err)));
    return false;
  }
  return true;
}

StampClock* Skeleton::setup_clock() {
  clock_ = ctx_.make<StampClock>();
  return clock_;
}

void Skeleton::setup_device(rdma_config cfg) {
  GUPLAB_CHECK(clock_ && "setup_world() or setup_clock() first");
  script_ = ctx_.make<Script>(ctx_);
  dev_ = ctx_.make<RdmaDevice>(&ctx_.machine(), clock_, std::move(cfg));
  witness_ = ctx_.make<PinWitness>(ctx_, *script_);
  witness_->watch(dev_);
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

bool AnonProcess::setup(ScenarioContext& ctx, unsigned long npages) {
  mm = mm_alloc(&ctx.machine());
  if (!mm) {
    ctx.found(Outcome::warn, "setup failed: no memory for an mm");
    return false;
  }
  const long a = vm_mmap(mm, 0, npages << PAGE_SHIFT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  if (a < 0) {
    ctx.found(Outcome::warn, fmt::format("setup failed: mmap: {}", errname(static_cast<int>(a))));
    return false;
  }
  addr = static_cast<unsigned long>(a);
  return true;
}

void AnonProcess::exit() {
  mmput(mm);
  mm = nullptr;
}

AnonProcess::~AnonProcess() {
  if (mm) mm_abandon(mm);
}

block_device* open_stamped_disk(ScenarioContext& ctx, const char* spec, StampClock* clock, unsigned npages,
                                uint32_t writer, std::vector<dma_stamp>* stamps) {
  std::string why;
  block_device* bdev = blkdev_get_by_path(&ctx.machine(), spec, &why);
  if (IS_ERR(bdev)) {
    const std::string_view s(spec);
    ctx.found(Outcome::warn, fmt::format("{}: {}", s.substr(0, s.find(',')), why));
    return nullptr;
  }
  for (unsigned i = 0; i < npages; i++) {
    PageImage img;
    const dma_stamp st{writer, i, clock->next()};
    if (stamps) stamps->push_back(st);
    stamp_fill_page(img.data(), st);
    static_cast<ramdisk*>(bdev)->write_sectors(static_cast<sector_t>(i) << (PAGE_SHIFT - SECTOR_SHIFT),
                                              PAGE_SIZE >> SECTOR_SHIFT, img.data());
  }
  return bdev;
}

void close_disk(ScenarioContext& ctx, block_device* bdev, const char* name) {
  blkdev_put(bdev);
  if (int err = del_gendisk(&ctx.machine(), name)) ctx.found(Outcome::warn, fmt::format("del_gendisk {}: {}", name, errname(err)));
}

bool OtherFile::create(ScenarioContext& ctx, StampClock* clock, const char* path, unsigned npages) {
  file* nf = filp_open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (IS_ERR(nf)) {
    ctx.found(Outcome::warn, fmt::format("open {}: {}", path, errname(static_cast<int>(PTR_ERR(nf)))));
    return false;
  }
  f = nf;
  for (unsigned i = 0; i < npages; i++) {
    PageImage img;
    const dma_stamp s{0, i, clock->next()};
    stamp_fill_page(img.data(), s);
    loff_t pos = static_cast<loff_t>(i) << PAGE_SHIFT;
    const ssize_t n = kernel_write(f, img.data(), PAGE_SIZE, &pos);
    // Only a write that went through is expected back; one that failed is reported as
    // failed (generation 0: nothing to compare), not later as a lost update.
    written.push_back(n == static_cast<ssize_t>(PAGE_SIZE) ? s : dma_stamp{});
    if (n != static_cast<ssize_t>(PAGE_SIZE))
      ctx.found(Outcome::warn, fmt::format("write {} page {} failed: {}", path, i,
                                           n < 0 ? errname(static_cast<int>(n)) : fmt::format("{} bytes", n)));
  }
  return true;
}

void OtherFile::close() {
  if (f) filp_close(f);
  f = nullptr;
}

OtherFile::~OtherFile() {
  if (f) file_abandon(f);  // the run ended early (the machine is halted)
}

int device_rounds(ScenarioContext& ctx, RdmaDevice* dev, unsigned long addr, unsigned long npages,
                  const Workers* others, const device_rounds_options& o) NO_THREAD_SAFETY_ANALYSIS {
  if (int err = dev->reg_mr(addr, npages)) {
    ctx.found(Outcome::warn, fmt::format("reg_mr failed: {}", errname(err)));
    return err;
  }
  const bool scripted = ctx.params().scripted;
  unsigned g = 0;
  do {
    if (o.each_round) Script::pass(o.each_round);
    if (o.turn) down_write(o.turn);
    dev->dma_write_all();
    if (o.turn) up_write(o.turn);
    if (!scripted) yield_some(o.yields);
  } while (!scripted && others->keep_going(++g));
  dev->dereg_mr(o.make_dirty);
  return 0;
}

}  // namespace guplab
