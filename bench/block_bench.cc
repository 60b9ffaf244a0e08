// block_bench.cc - 4 KiB random I/O at queue depth 64 from one submitter, through the
// whole block layer (bio_alloc, bio_add_page, submit_bio under a plug, the completion
// task, bio_release_pages, bio_put): the ramdisk, and the uring device on a host file.
// Compare the uring figure with `fio --direct=1 --ioengine=io_uring --bs=4k --iodepth=64`
// on the same filesystem.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/errno.h"
#include "base/random.h"
#include "block/bio.h"
#include "block/blkdev.h"
#include "block/genhd.h"
#include "machine/machine.h"
#include "mm/page_alloc.h"
#include "mm/swap.h"

namespace guplab {
namespace {

constexpr unsigned kDepth = 64;

struct bench_ctx {
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> errors{0};
};

void bench_end_io(bio* b) {
  auto* c = static_cast<bench_ctx*>(b->bi_private);
  if (b->bi_status != BLK_STS_OK) c->errors.fetch_add(1, std::memory_order_relaxed);
  bio_release_pages(b, false);
  bio_put(b);
  c->done.fetch_add(1, std::memory_order_release);
}

/** run_ios() - @n 4 KiB I/Os at random 4 KiB offsets, kept @kDepth deep by the queue. */
void run_ios(block_device* d, blk_opf_t op, uint64_t n, const std::vector<page*>& pages, Random* rng,
             bench_ctx* c) {
  const uint64_t slots = d->nr_sectors() / 8;
  const uint64_t target = c->done.load() + n;
  blk_plug plug;
  blk_start_plug(&plug);
  for (uint64_t i = 0; i < n; i++) {
    bio* b = bio_alloc(d, 1, op);
    b->bi_iter.bi_sector = rng->uniform(slots) * 8;
    page* p = pages[i % pages.size()];
    get_page(p);
    bio_add_page(b, p, PAGE_SIZE, 0, false);
    b->bi_end_io = bench_end_io;
    b->bi_private = c;
    submit_bio(b);  // sleeps while kDepth requests are in flight
  }
  blk_finish_plug(&plug);
  while (c->done.load(std::memory_order_acquire) < target) cond_resched();
}

void BM_Block4kRandRead(benchmark::State& state, const std::string& spec) {
  MachineConfig cfg;
  cfg.ram_bytes = 64ull << 20;
  Machine m(cfg);
  TaskScope scope(m.task_init("fio"));
  std::string err;
  block_device* d = blkdev_get_by_path(&m, spec, &err);
  if (IS_ERR(d)) {
    state.SkipWithError(err.c_str());
    return;
  }
  std::vector<page*> pages;
  for (unsigned i = 0; i < kDepth; i++) pages.push_back(alloc_page(gfp_t::GFP_KERNEL));
  Random rng(42);
  bench_ctx c;
  // Lay the data down first so reads hit allocated blocks (not holes).
  run_ios(d, REQ_OP_WRITE, d->nr_sectors() / 8, pages, &rng, &c);
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) run_ios(d, REQ_OP_READ, n, pages, &rng, &c);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["IOPS"] = benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
  state.counters["errors"] = static_cast<double>(c.errors.load());
  state.counters["max_inflight"] = d->stats().max_inflight;
  for (page* p : pages) put_page(p);
  blkdev_put(d);
}

std::string bench_file() {
  const char* dir = std::getenv("GUPLAB_BENCH_DIR");
  return std::string(dir ? dir : "/var/tmp") + "/guplab-bench-uring.img";
}

void BM_Ramdisk(benchmark::State& state) { BM_Block4kRandRead(state, "ram0,size=256M,depth=64"); }
void BM_Uring(benchmark::State& state) {
  const std::string path = bench_file();
  BM_Block4kRandRead(state, "uring:" + path + ",size=256M,depth=64");
  ::unlink(path.c_str());
}

BENCHMARK(BM_Ramdisk)->Name("block/ramdisk_randread_4k_qd64")->Arg(65536)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Uring)->Name("block/uring_randread_4k_qd64")->Arg(65536)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace guplab
