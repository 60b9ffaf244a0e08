// rdma_cost.cc - registering and invalidating under each device mode, timed on the host.
#include "lab/rdma_cost.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/bug.h"
#include "base/clock.h"
#include "base/errno.h"
#include "base/task.h"
#include "drivers/odp_device.h"
#include "drivers/rdma_device.h"
#include "lab/oracles.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/madvise.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"

namespace guplab {

namespace {

class PinCost : public CostDevice {
 public:
  PinCost(Machine* m, StampClock* c, bool listens = false) : dev_(m, c, config(listens)) {}
  int reg(unsigned long addr, unsigned long npages) override { return dev_.reg_mr(addr, npages); }
  void dereg() override { dev_.dereg_mr(true); }
  int write(unsigned long i, dma_stamp* out) override {
    *out = dev_.dma_write(i);
    return 0;
  }

 private:
  static rdma_config config(bool listens) {
    rdma_config cfg;
    cfg.listens = listens;  // seed 003's revoke: an mmu notifier and the IOMMU at reg_mr()
    return cfg;
  }
  RdmaDevice dev_;
};

class OdpCost : public CostDevice {
 public:
  OdpCost(Machine* m, StampClock* c) : dev_(m, c, odp_config{}) {}
  int reg(unsigned long addr, unsigned long npages) override { return dev_.reg_mr(addr, npages); }
  void dereg() override { dev_.dereg_mr(); }
  int write(unsigned long i, dma_stamp* out) override { return dev_.dma_write(i, 0, kStampChunks, out); }

 private:
  OdpDevice dev_;
};

/** No device at all: the zap and the process's fault alone (the baseline round). */
class NoDevice : public CostDevice {
 public:
  int reg(unsigned long, unsigned long) override { return 0; }
  void dereg() override {}
  int write(unsigned long, dma_stamp* out) override {
    *out = dma_stamp{};
    return 0;
  }
};

struct RunFigures {
  double reg_ns_per_page = 0;
  double inval_ns = 0;
  double write_ns = 0;
  unsigned long coherent = 0;
  unsigned long checked = 0;
  long pins_held = 0;
  int error = 0;
};

/** One run of @mode (nullptr: the baseline, no device). */
RunFigures run_once(const rdma_cost_mode* mode, const RdmaCostOptions& opt) {
  RunFigures f;
  MachineConfig cfg;
  cfg.ram_bytes = 256ull << 20;
  cfg.pin_design = PinDesign::folio_pincount;
  Machine m(cfg);
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    BUG_ON(!mm);
    current()->mm = mm;
    const unsigned long n = opt.pages;
    long r = vm_mmap(mm, 0, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    BUG_ON(r <= 0);
    const auto a = static_cast<unsigned long>(r);
    const uint64_t one = 1;
    for (unsigned long i = 0; i < n; i++) BUG_ON(uaccess_write(mm, a + i * PAGE_SIZE, &one, sizeof(one)) != 0);
    StampClock clock;
    std::unique_ptr<CostDevice> dev = mode ? mode->make(&m, &clock) : std::make_unique<NoDevice>();

    uint64_t t0 = host_time_ns();
    for (unsigned k = 0; k < opt.rounds && !f.error; k++) {
      f.error = dev->reg(a, n);
      if (!f.error) dev->dereg();
    }
    f.reg_ns_per_page = static_cast<double>(host_time_ns() - t0) / (static_cast<double>(opt.rounds) * static_cast<double>(n));

    if (!f.error) f.error = dev->reg(a, n);
    if (!f.error) {
      f.pins_held = m.vmstat().read(NR_FOLL_PIN_ACQUIRED) - m.vmstat().read(NR_FOLL_PIN_RELEASED);
      dma_stamp s;
      t0 = host_time_ns();
      for (unsigned k = 0; k < opt.invalidations && !f.error; k++) {
        const unsigned long addr = a + (k % n) * PAGE_SIZE;
        do_madvise(mm, addr, PAGE_SIZE, MADV_DONTNEED);
        uaccess_write(mm, addr, &one, sizeof(one));
        f.error = dev->write(k % n, &s);
      }
      f.inval_ns = static_cast<double>(host_time_ns() - t0) / static_cast<double>(opt.invalidations);
      // The same rounds without the zap: what the store and the device write cost alone.
      t0 = host_time_ns();
      for (unsigned k = 0; k < opt.invalidations && !f.error; k++) {
        const unsigned long addr = a + (k % n) * PAGE_SIZE;
        uaccess_write(mm, addr, &one, sizeof(one));
        f.error = dev->write(k % n, &s);
      }
      f.write_ns = static_cast<double>(host_time_ns() - t0) / static_cast<double>(opt.invalidations);
      // Untimed: does the process see the device's write after an invalidation?
      for (unsigned long i = 0; i < std::min<unsigned long>(n, 64) && !f.error; i++) {
        const unsigned long addr = a + i * PAGE_SIZE;
        do_madvise(mm, addr, PAGE_SIZE, MADV_DONTNEED);
        uaccess_write(mm, addr, &one, sizeof(one));
        f.error = dev->write(i, &s);
        PageImage img;
        BUG_ON(uaccess_read(mm, addr, img.data(), PAGE_SIZE) != 0);
        PageStampScan scan = stamp_scan_page(img.data());
        f.checked++;
        f.coherent += scan.verdict == PageVerdict::whole && scan.stamp() == s;
      }
      dev->dereg();
    }
    dev.reset();
    current()->mm = nullptr;
    mmput(mm);
  });
  BUG_ON_MSG(!m.oopses().empty(), "rdma-cost: the run oopsed: " + m.oopses().front().format());
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

const std::vector<rdma_cost_mode>& rdma_cost_modes() {
  static const std::vector<rdma_cost_mode> kModes = {
      {"pin", "frames stay put while pinned, but the mm (and a truncate) may move on: writes can go to a stale frame",
       [](Machine* m, StampClock* c) { return std::unique_ptr<CostDevice>(new PinCost(m, c)); }},
      {"pin+notify",
       "pinned, listening (seed 003's revoke): told of TRUNCATE/UNMAP, then DMA goes to the scratch page and the "
       "pins are dropped; other invalidations (here MADV_DONTNEED's CLEAR) leave it writing a stale frame",
       [](Machine* m, StampClock* c) { return std::unique_ptr<CostDevice>(new PinCost(m, c, true)); }},
      {"odp", "always coherent: nothing pinned, each invalidation costs the device a page fault",
       [](Machine* m, StampClock* c) { return std::unique_ptr<CostDevice>(new OdpCost(m, c)); }},
  };
  return kModes;
}

Result<std::vector<RdmaCostRow>> measure_rdma_cost(const RdmaCostOptions& opt) {
  std::vector<RdmaCostRow> rows;
  if (!opt.pages || !opt.rounds || !opt.invalidations || !opt.runs) return Error{errname(-EINVAL), -EINVAL};
  bool found = opt.only.empty();
  for (const rdma_cost_mode& mode : rdma_cost_modes()) found |= opt.only == mode.name;
  if (!found) return Error{errname(-EINVAL), -EINVAL};
  for (const rdma_cost_mode& mode : rdma_cost_modes()) {
    if (!opt.only.empty() && opt.only != mode.name) continue;
    RdmaCostRow row;
    row.mode = mode.name;
    row.guarantee = mode.guarantee;
        std::vector<double> reg, inval, write;
    for (unsigned r = 0; r < opt.runs; r++) {
      RunFigures f = run_once(&mode, opt);
      if (f.error) {
        row.error = f.error;
        break;
      }
      reg.push_back(f.reg_ns_per_page);
      inval.push_back(f.inval_ns);
      write.push_back(f.write_ns);
      row.coherent = f.coherent;
      row.checked = f.checked;
      row.pins_held = f.pins_held;
    }
    if (!row.error) {
      row.reg_ns_per_page = median(reg);
      row.round_ns = median(inval);
      row.write_ns = median(write);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

double measure_rdma_baseline(const RdmaCostOptions& opt) {
  std::vector<double> extra;
  for (unsigned r = 0; r < std::max(1u, opt.runs); r++) {
    RunFigures f = run_once(nullptr, opt);
    extra.push_back(f.inval_ns - f.write_ns);
  }
  return median(extra);
}

std::string format_rdma_cost(const std::vector<RdmaCostRow>& rows, const RdmaCostOptions& opt, double baseline_ns) {
  std::string out = fmt::format(
      "rdma-cost: {} pages, {} register rounds, {} invalidations, median of {} runs (host ns)\n", opt.pages,
      opt.rounds, opt.invalidations, opt.runs);
  if (baseline_ns > 0)
    out += fmt::format("no device: MADV_DONTNEED of a page + the process's fault on it: {:.1f} ns\n", baseline_ns);
  out += fmt::format("{:<12} {:>12} {:>10} {:>10} {:>10} {:>9} {:>5}  {}\n", "mode", "reg ns/page", "ns/round",
                     "ns/write", "ns/inval", "coherent", "pins", "guarantee");
  for (const RdmaCostRow& r : rows) {
    if (r.error) {
      out += fmt::format("{:<12} failed: {}\n", r.mode, errname(r.error));
      continue;
    }
    out += fmt::format("{:<12} {:>12.1f} {:>10.1f} {:>10.1f} {:>10.1f} {:>9} {:>5}  {}\n", r.mode, r.reg_ns_per_page,
                       r.round_ns, r.write_ns, r.inval_ns(), fmt::format("{}/{}", r.coherent, r.checked), r.pins_held,
                       r.guarantee);
  }
  return out;
}

}  // namespace guplab
