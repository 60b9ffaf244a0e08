// gup_test.cc - the gup_test selftest against the model, and its references.
#include "tools/gup_test.h"

#include <CLI/CLI.hpp>

#include "tools/usage_exit.h"
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <vector>

#include "base/clock.h"
#include "base/errno.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/gup.h"
#include "mm/hugetlb.h"
#include "mm/pin_design.h"
#include "mm/mm_struct.h"
#include "mm/fork.h"
#include "mm/madvise.h"
#include "mm/mmap.h"
#include "mm/swap.h"
#include "mm/uaccess.h"
#include "tools/cell_options.h"
#include "tools/host_pin.h"
#include "tools/strict_number.h"

namespace guplab::tools {

const char* to_string(GupTestCmd c) {
  switch (c) {
    case GupTestCmd::GUP_FAST_BENCHMARK: return "GUP_FAST_BENCHMARK";
    case GupTestCmd::PIN_FAST_BENCHMARK: return "PIN_FAST_BENCHMARK";
    case GupTestCmd::PIN_LONGTERM_BENCHMARK: return "PIN_LONGTERM_BENCHMARK";
    case GupTestCmd::GUP_BASIC_TEST: return "GUP_BASIC_TEST";
    case GupTestCmd::PIN_BASIC_TEST: return "PIN_BASIC_TEST";
  }
  return "?";
}

namespace {

bool is_pin(GupTestCmd c) {
  return c == GupTestCmd::PIN_FAST_BENCHMARK || c == GupTestCmd::PIN_LONGTERM_BENCHMARK || c == GupTestCmd::PIN_BASIC_TEST;
}
bool takes_mmap_lock(GupTestCmd c) {
  return c == GupTestCmd::PIN_LONGTERM_BENCHMARK || c == GupTestCmd::GUP_BASIC_TEST || c == GupTestCmd::PIN_BASIC_TEST;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One ioctl of the selftest: get every page of [addr, addr+size) in calls of
// nr_per_call pages, then release them; timed separately, as mm/gup_test.c does.
GupTestRun gup_test_once(const GupTestOptions& opt, mm_struct* mm, unsigned long addr, uint64_t size,
                         std::vector<page*>& pages) NO_THREAD_SAFETY_ANALYSIS {
  GupTestRun run;
  const unsigned long end = addr + size;
  const foll_flags flags = opt.write ? FOLL_WRITE : FOLL_NONE;
  const long per_call = opt.nr_pages_per_call;
  long i = 0, nr = per_call;
  if (takes_mmap_lock(opt.cmd)) mmap_read_lock(mm);
  const uint64_t t0 = host_time_ns();
  for (unsigned long a = addr, next; a < end; a = next) {
    if (nr != per_call) break;
    next = a + static_cast<unsigned long>(nr) * PAGE_SIZE;
    if (next > end) {
      next = end;
      nr = static_cast<long>((next - a) / PAGE_SIZE);
    }
    long got = 0;
    switch (opt.cmd) {
      case GupTestCmd::GUP_FAST_BENCHMARK: got = get_user_pages_fast(a, static_cast<int>(nr), flags, &pages[i]); break;
      case GupTestCmd::PIN_FAST_BENCHMARK: got = pin_user_pages_fast(a, static_cast<int>(nr), flags, &pages[i]); break;
      case GupTestCmd::PIN_LONGTERM_BENCHMARK: got = pin_user_pages(a, nr, flags | FOLL_LONGTERM, &pages[i]); break;
      case GupTestCmd::GUP_BASIC_TEST: got = get_user_pages(a, nr, flags, &pages[i]); break;
      case GupTestCmd::PIN_BASIC_TEST: got = pin_user_pages(a, nr, flags, &pages[i]); break;
    }
    if (got <= 0) {
      run.status = got;
      break;
    }
    nr = got;
    i += got;
  }
  // --coalesce: runs of consecutive subpages of one folio, as io_uring registers them.
  std::vector<std::pair<page*, unsigned long>> runs;
  if (opt.coalesce && is_pin(opt.cmd)) {
    for (long k = 0; k < i;) {
      page* first = pages[k];
      folio* f = page_folio(first);
      // The folio's struct pages are consecutive: an entry that is the next one and still
      // inside the folio belongs to it, with no struct page read.
      const long left = static_cast<long>(folio_nr_pages(f)) - static_cast<long>(first - static_cast<page*>(f));
      long n = 1;
      while (k + n < i && n < left && pages[k + n] == first + n) n++;
      runs.emplace_back(first, static_cast<unsigned long>(n));
      k += n;
    }
  }
  const uint64_t t1 = host_time_ns();
  if (takes_mmap_lock(opt.cmd)) mmap_read_unlock(mm);
  // Untimed: every pinned page must say so (no false negatives).
  if (is_pin(opt.cmd) && opt.design != PinDesign::get)
    for (long k = 0; k < i; k++)
      if (!page_maybe_dma_pinned(pages[k])) run.not_pinned++;
  const uint64_t t2 = host_time_ns();
  if (is_pin(opt.cmd) && opt.coalesce) {
    for (const auto& [first, n] : runs) unpin_user_page_range_dirty_lock(first, n, false);
  } else if (is_pin(opt.cmd)) {
    unpin_user_pages(pages.data(), static_cast<unsigned long>(i));
  } else if (pin_design_props(opt.design).get_is_pin) {
    // bias_all (seed 000 as posted): get_user_pages*() pinned them; a converted caller
    // releases with put_user_page(), as the seed converted gup_benchmark.
    for (long k = 0; k < i; k++) put_user_page(pages[k]);
  } else {
    for (long k = 0; k < i; k++) put_page(pages[k]);
  }
  const uint64_t t3 = host_time_ns();
  run.get_ns = t1 - t0;
  run.put_ns = t3 - t2;
  run.pages = static_cast<uint64_t>(i);
  return run;
}

// The reference: a bare atomic increment, then decrement, of the same mem_map entries.
void bare_atomic_loop(const std::vector<page*>& pages, uint64_t* inc_ns, uint64_t* dec_ns) {
  const uint64_t t0 = host_time_ns();
  for (page* p : pages) p->_refcount.counter.fetch_add(1, std::memory_order_relaxed);
  const uint64_t t1 = host_time_ns();
  for (page* p : pages) p->_refcount.counter.fetch_sub(1, std::memory_order_relaxed);
  const uint64_t t2 = host_time_ns();
  *inc_ns = t1 - t0;
  *dec_ns = t2 - t1;
}

// The same entries taken as GUP-fast must take them, with no model around it: an
// increment unless zero (a compare-and-swap loop: a page being freed is not taken), and
// the page stored in the caller's array before the next locked operation. Then the
// references are dropped (not timed).
uint64_t kernel_shaped_loop(const std::vector<page*>& pages, std::vector<page*>* out) {
  out->resize(pages.size());
  page** dst = out->data();
  const uint64_t t0 = host_time_ns();
  for (page* p : pages) {
    auto& c = p->_refcount.counter;
    int v = c.load(std::memory_order_relaxed);
    while (v != 0 && !c.compare_exchange_weak(v, v + 1, std::memory_order_relaxed)) {
    }
    *dst++ = v ? p : nullptr;
  }
  const uint64_t t1 = host_time_ns();
  for (page* p : *out)
    if (p) p->_refcount.counter.fetch_sub(1, std::memory_order_relaxed);
  return t1 - t0;
}

// Both sides of --baseline are timed from the same cache state: cold, as the first pass
// after faulting in a large buffer is (its zeroing evicted every struct page). A write
// sweep over twice the host's last-level cache before each timed pass gets there again
// (a fixed 128 MiB did not: with a 480 MiB LLC the later passes found the struct pages
// the previous one had touched still cached, and only the model's first pass ran cold).
class CacheSweep {
 public:
  void operator()() {
    if (buf_.empty()) buf_.assign(bytes(), 0);
    for (size_t i = 0; i < buf_.size(); i += 64) buf_[i] = static_cast<char>(buf_[i] + 1);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
  }

 private:
  // Twice the LLC the host reports, at least 128 MiB (none reported), at most 2 GiB.
  static size_t bytes() {
    const long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    const size_t want = llc > 0 ? 2 * static_cast<size_t>(llc) : 0;
    return std::clamp<size_t>(want, 128ull << 20, 2ull << 30);
  }
  std::vector<char> buf_;
};

}  // namespace

MachineConfig gup_test_machine_config(const GupTestOptions& opt) {
  const uint64_t size = opt.size_mb << 20;
  MachineConfig cfg;
  cfg.ram_bytes = ((size + size / 16 + (64ull << 20)) + PMD_SIZE - 1) & PMD_MASK;
  cfg.pin_design = opt.design;
  cfg.thp = true;
  if (opt.hugetlb) {
    const uint64_t hsize = 1ull << opt.hugetlb_shift;
    const unsigned long n = (size + hsize - 1) / hsize;
    (opt.hugetlb_shift == PUD_SHIFT ? cfg.hugetlb_1g_pages : cfg.hugetlb_2m_pages) = n;
    const uint64_t need = hugetlb_min_ram_bytes(cfg);
    cfg.ram_bytes = need ? std::max<uint64_t>(need, 64ull << 20) : (64ull << 30) + PMD_SIZE;  // too big: refused at boot
  }
  if (opt.ram_bytes) cfg.ram_bytes = opt.ram_bytes;
  return cfg;
}

GupTestReport run_gup_test(const GupTestOptions& opt) {
  GupTestReport rep;
  const uint64_t size = opt.size_mb << 20;
  const MachineConfig cfg = gup_test_machine_config(opt);
  std::unique_ptr<Machine> mp;
  try {
    mp = std::make_unique<Machine>(cfg);
  } catch (const std::invalid_argument& e) {
    rep.error = e.what();
    return rep;
  }
  Machine& m = *mp;
  std::vector<page*> last_pages;
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    current()->mm = mm;
    int mflags = (opt.shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
    if (opt.hugetlb) mflags |= MAP_HUGETLB | (static_cast<int>(opt.hugetlb_shift) << kMapHugeShift);
    long addr = vm_mmap(mm, 0, size, PROT_READ | PROT_WRITE, mflags, nullptr, 0);
    if (addr < 0) {
      rep.error = fmt::format("mmap: {}", errname(static_cast<int>(addr)));
      current()->mm = nullptr;
      mmput(mm);
      return;
    }
    const auto start = static_cast<unsigned long>(addr);
    // munmap of a hugetlb mapping covers whole huge pages (mmap rounded the length up).
    const uint64_t map_len = opt.hugetlb ? (size + (1ull << opt.hugetlb_shift) - 1) & ~((1ull << opt.hugetlb_shift) - 1) : size;
    if (opt.thp == 1) do_madvise(mm, start, size, MADV_HUGEPAGE);
    if (opt.thp == 0) do_madvise(mm, start, size, MADV_NOHUGEPAGE);
    if (!opt.fault_in_gup) {
      const char zero = 0;
      for (unsigned long a = start; a < start + size; a += PAGE_SIZE) BUG_ON(uaccess_write(mm, a, &zero, 1) != 0);
    }
    std::vector<std::vector<page*>> pages(static_cast<size_t>(opt.threads), std::vector<page*>(size / PAGE_SIZE));
    CacheSweep sweep;
    std::vector<double> inc, dec, shaped;
    std::vector<page*> taken;
    const auto per_page = [&](uint64_t ns) { return static_cast<double>(ns) / static_cast<double>(last_pages.size()); };
    for (int r = 0; r < gup_test_passes(opt); r++) {
      if (opt.baseline) sweep();
      std::vector<GupTestRun> runs(static_cast<size_t>(opt.threads));
      std::vector<task_struct*> ts;
      for (int t = 0; t < opt.threads; t++)
        ts.push_back(m.spawn(fmt::format("gup_test/{}", t),
                             [&, t] { runs[static_cast<size_t>(t)] = gup_test_once(opt, mm, start, size, pages[static_cast<size_t>(t)]); },
                             mm));
      for (auto* t : ts) task_join(t);
      for (auto& run : runs) rep.runs.push_back(run);
      if (r == 0)
        last_pages.assign(pages[0].begin(), pages[0].begin() + static_cast<long>(rep.runs.empty() ? 0 : rep.runs[0].pages));
      if (!opt.baseline || last_pages.empty()) continue;
      // The references right after the model's pass, from the same cold state: a noisy
      // moment of the machine falls on both sides of the ratio alike.
      uint64_t a, b;
      sweep();
      bare_atomic_loop(last_pages, &a, &b);
      inc.push_back(per_page(a));
      dec.push_back(per_page(b));
      sweep();
      shaped.push_back(per_page(kernel_shaped_loop(last_pages, &taken)));
    }
    if (!inc.empty()) {
      rep.baseline_get_ns_per_page = median(inc);
      rep.baseline_put_ns_per_page = median(dec);
      rep.shaped_get_ns_per_page = median(shaped);
    }
    vm_munmap(mm, start, map_len);
    current()->mm = nullptr;
    mmput(mm);
  });
  std::vector<double> g, p;
  for (const auto& run : rep.runs)
    if (run.pages) {
      g.push_back(static_cast<double>(run.get_ns) / static_cast<double>(run.pages));
      p.push_back(static_cast<double>(run.put_ns) / static_cast<double>(run.pages));
    }
  rep.get_ns_per_page = median(g);
  rep.put_ns_per_page = median(p);
  rep.vmstat = m.vmstat().format();
  if (opt.host_baseline) {
    HostPinResult h = host_longterm_pin(size, opt.thp == 1, std::max(opt.repeats, 3));
    rep.host_ok = h.ok;
    rep.host_error = h.error;
    rep.host_thp = h.thp;
    std::vector<double> hg, hp;
    for (const auto& run : h.runs) {
      hg.push_back(static_cast<double>(run.get_ns) / static_cast<double>(h.pages));
      hp.push_back(static_cast<double>(run.put_ns) / static_cast<double>(h.pages));
    }
    rep.host_get_ns_per_page = median(hg);
    rep.host_put_ns_per_page = median(hp);
  }
  if (m.nr_oops()) rep.oops = m.oopses()[0].format();
  return rep;
}

int gup_test_main(int argc, char** argv) {
  CLI::App app{"gup_test: the kernel selftest's benchmark, run on the guplab model", "guplab gup_test"};
  GupTestOptions opt;
  int cmds = 0;
  auto cmd_flag = [&](const char* name, GupTestCmd c, const char* help) {
    app.add_flag_callback(name, [&, c] { opt.cmd = c; cmds++; }, help);
  };
  cmd_flag("-u", GupTestCmd::GUP_FAST_BENCHMARK, "GUP_FAST_BENCHMARK: get_user_pages_fast (default)");
  cmd_flag("-a", GupTestCmd::PIN_FAST_BENCHMARK, "PIN_FAST_BENCHMARK: pin_user_pages_fast");
  cmd_flag("-L", GupTestCmd::PIN_LONGTERM_BENCHMARK, "PIN_LONGTERM_BENCHMARK: pin_user_pages(FOLL_LONGTERM)");
  cmd_flag("-U", GupTestCmd::GUP_BASIC_TEST, "GUP_BASIC_TEST: get_user_pages");
  cmd_flag("-b", GupTestCmd::PIN_BASIC_TEST, "PIN_BASIC_TEST: pin_user_pages");
  app.add_option("-m", opt.size_mb, "size of the buffer in MiB (default 128)")->check(Whole(1, 16384));
  app.add_option("-n", opt.nr_pages_per_call, "pages per call (default 1)")->check(Whole(1, 1 << 20));
  app.add_option("-r", opt.repeats, "repeats (default 1)")->check(Whole(1, 1000));
  app.add_option("-j", opt.threads, "threads (default 1)")->check(Whole(1, 64));
  app.add_flag_callback("-t", [&] { opt.thp = 1; }, "MADV_HUGEPAGE the buffer");
  app.add_flag_callback("-T", [&] { opt.thp = 0; }, "MADV_NOHUGEPAGE the buffer");
  app.add_flag_callback("-w", [&] { opt.write = true; }, "FOLL_WRITE (default)");
  app.add_flag_callback("-W", [&] { opt.write = false; }, "no FOLL_WRITE");
  app.add_flag("-S", opt.shared, "MAP_SHARED instead of MAP_PRIVATE");
  app.add_flag("-z", opt.fault_in_gup, "fault pages in through GUP, not by touching them first");
  app.add_flag("-H", opt.hugetlb, "MAP_HUGETLB: map the buffer with hugetlb pages (a pool of them is reserved at boot)");
  std::string hsize;
  app.add_option("--hugetlb-size", hsize,
                 "with -H: the huge page size, 2M (MAP_HUGE_2MB, PMD leaves; the default) or 1G (MAP_HUGE_1GB, PUD leaves)")
      ->check([](const std::string& s) {
        auto v = parse_size(s);
        return v && (*v == PMD_SIZE || *v == PUD_SIZE) ? std::string() : "hugetlb size must be 2M or 1G, not '" + s + "'";
      });
  std::string ram;
  app.add_option("--ram", ram, "the model machine's RAM, e.g. 4G (default: sized to the buffer and its pool)")
      ->check([](const std::string& s) {
        auto v = parse_size(s);
        return v && *v && *v % PMD_SIZE == 0 && *v <= (64ull << 30) ? std::string()
                                                                    : "RAM must be a multiple of 2M, at most 64G, not '" + s + "'";
      });
  std::string design = to_string(opt.design);
  app.add_option("--design", design,
                 "pin design: " + pin_design_names() + " (fake_vma: every pin takes the slow path)")
      ->check([](const std::string& s) { return parse_pin_design(s) ? std::string() : "unknown design '" + s + "'"; });
  app.add_flag("--baseline", opt.baseline, "also time a bare atomic fetch_add loop over the same mem_map entries");
  app.add_flag("--host-baseline", opt.host_baseline,
               "also time the host kernel's FOLL_LONGTERM pin of an equal buffer (io_uring buffer registration)");
  app.add_flag("--coalesce", opt.coalesce,
               "pin: keep the pins as folio runs and unpin run by run, as an io_uring registered buffer is kept");
  app.add_flag("--json", opt.json, "print the report as JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return usage_exit(app, e);
  }
  if (cmds > 1) {
    fmt::print(stderr, "gup_test: give one of -u -a -L -U -b\n");
    return 2;
  }
  opt.design = *parse_pin_design(design);
  if (opt.coalesce && !is_pin(opt.cmd)) {
    fmt::print(stderr, "gup_test: --coalesce keeps pins as folio runs: it goes with a pin command (-a -L -b)\n");
    return 2;
  }
  if (!hsize.empty()) {
    if (!opt.hugetlb) {
      fmt::print(stderr, "gup_test: --hugetlb-size needs -H\n");
      return 2;
    }
    opt.hugetlb_shift = *parse_size(hsize) == PUD_SIZE ? PUD_SHIFT : PMD_SHIFT;
  }
  if (!ram.empty()) {
    opt.ram_bytes = *parse_size(ram);
    GupTestOptions sized = opt;
    sized.ram_bytes = 0;
    const uint64_t least = gup_test_machine_config(sized).ram_bytes;  // the buffer, its page tables and the kernel's own
    if (opt.ram_bytes < least) {
      fmt::print(stderr, "gup_test: --ram {}: -m {}{} needs a machine of at least {} MiB (the default sizes it so)\n", ram,
                 opt.size_mb, opt.hugetlb ? " -H" : "", least >> 20);
      return 2;
    }
  }
  // The model's RAM is real host memory once touched: refuse a machine larger than the
  // arena's limit or than the host's free memory.
  const uint64_t ram_needed = gup_test_machine_config(opt).ram_bytes;
  const uint64_t host_free = static_cast<uint64_t>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (ram_needed > (64ull << 30) || ram_needed > host_free) {
    fmt::print(stderr, "gup_test: -m {}{} needs a machine with {} MiB of RAM; the limit is {} MiB ({}): lower -m{}\n",
               opt.size_mb, opt.hugetlb ? fmt::format(" -H --hugetlb-size {}", opt.hugetlb_shift == PUD_SHIFT ? "1G" : "2M") : "",
               ram_needed >> 20, std::min<uint64_t>(64ull << 30, host_free) >> 20,
               host_free < (64ull << 30) ? "the host's free memory" : "the model's 64 GiB arena", opt.ram_bytes ? " or --ram" : "");
    return 2;  // refused before anything is allocated, as any bad usage
  }

  GupTestReport rep = run_gup_test(opt);
  if (!rep.error.empty()) {  // as the selftest's ksft_exit_fail_msg()
    fmt::print("TAP version 13\n1..{}\nBail out! {}\n", opt.threads, rep.error);
    fmt::print(stderr, "gup_test: {}\n", rep.error);
    return 1;
  }
  if (opt.host_baseline && !rep.host_ok)
    fmt::print(stderr, "gup_test: --host-baseline: the host refused to pin: {}\n", rep.host_error);
  const bool bench = opt.cmd == GupTestCmd::GUP_FAST_BENCHMARK || opt.cmd == GupTestCmd::PIN_FAST_BENCHMARK ||
                     opt.cmd == GupTestCmd::PIN_LONGTERM_BENCHMARK;
  bool all_ok = true;
  if (opt.json) {
    nlohmann::json j;
    j["cmd"] = to_string(opt.cmd);
    j["design"] = to_string(opt.design);
    j["size_mb"] = opt.size_mb;
    j["nr_pages_per_call"] = opt.nr_pages_per_call;
    j["threads"] = opt.threads;
    j["thp"] = opt.thp;
    for (const auto& r : rep.runs) {
      j["runs"].push_back({{"get_us", r.get_ns / 1000}, {"put_us", r.put_ns / 1000}, {"pages", r.pages},
                           {"status", r.status}, {"not_pinned", r.not_pinned}});
      all_ok = all_ok && r.status == 0 && r.not_pinned == 0;
    }
    j["model"] = {{"get_ns_per_page", rep.get_ns_per_page}, {"put_ns_per_page", rep.put_ns_per_page}};
    if (opt.baseline)
      j["baseline"] = {{"get_ns_per_page", rep.baseline_get_ns_per_page}, {"put_ns_per_page", rep.baseline_put_ns_per_page},
                       {"model_over_baseline_get", rep.get_ns_per_page / rep.baseline_get_ns_per_page},
                       {"shaped_get_ns_per_page", rep.shaped_get_ns_per_page},
                       {"model_over_shaped_get", rep.get_ns_per_page / rep.shaped_get_ns_per_page}};
    if (opt.host_baseline) {
      if (rep.host_ok)
        j["host"] = {{"get_ns_per_page", rep.host_get_ns_per_page}, {"put_ns_per_page", rep.host_put_ns_per_page},
                     {"thp", rep.host_thp}, {"model_over_host_get", rep.get_ns_per_page / rep.host_get_ns_per_page}};
      else
        j["host"] = {{"error", rep.host_error}};
    }
    if (!rep.oops.empty()) j["oops"] = rep.oops;
    fmt::print("{}\n", j.dump(2));
    return all_ok && rep.oops.empty() ? 0 : 1;
  }
  fmt::print("TAP version 13\n1..{}\n", opt.threads);
  for (const auto& r : rep.runs) {
    if (bench)
      fmt::print("# {}: Time: get:{} put:{} us", to_string(opt.cmd), r.get_ns / 1000, r.put_ns / 1000);
    else
      fmt::print("# {}: done", to_string(opt.cmd));
    if (r.pages != (opt.size_mb << 20) / PAGE_SIZE) fmt::print(", truncated (size: {})", r.pages * PAGE_SIZE);
    fmt::print("\n");
    if (r.not_pinned) fmt::print("# {} pages not reported as dma-pinned\n", r.not_pinned);
  }
  int pass = 0, fail = 0;
  for (int t = 0; t < opt.threads; t++) {
    const size_t last = rep.runs.size() - static_cast<size_t>(opt.threads) + static_cast<size_t>(t);
    if (rep.runs.size() < static_cast<size_t>(opt.threads)) {  // the model halted before this thread ran
      fail++;
      fmt::print("not ok {} no run\n", t + 1);
      continue;
    }
    const auto& r = rep.runs[last];
    const bool ok = r.status == 0 && r.not_pinned == 0;
    ok ? pass++ : fail++;
    fmt::print("{} {} ioctl status {}\n", ok ? "ok" : "not ok", t + 1, r.status);
  }
  fmt::print("# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:0 error:0\n", pass, fail);
  const char* pagesz = opt.hugetlb ? (opt.hugetlb_shift == PUD_SHIFT ? "hugetlb 1 GiB pages (PUD leaves)" : "hugetlb 2 MiB pages (PMD leaves)")
                      : opt.thp == 1 ? "THP (2 MiB folios)" : "4 KiB pages";
  fmt::print("# guplab: design={} {} pages x {} repeats x {} threads, {} pages/call, {}\n", to_string(opt.design),
             (opt.size_mb << 20) / PAGE_SIZE, gup_test_passes(opt), opt.threads, opt.nr_pages_per_call, pagesz);
  fmt::print("#   model     get {:8.2f} ns/page   put {:8.2f} ns/page   (medians)\n", rep.get_ns_per_page, rep.put_ns_per_page);
  if (opt.baseline)
    fmt::print("#   baseline  inc {:8.2f} ns/page   dec {:8.2f} ns/page   (bare atomic fetch_add/sub on the same mem_map entries;\n"
               "#             both sides timed from cold caches)\n"
               "#   ratio     model/baseline get {:.2f}x  put {:.2f}x\n"
               "#   shaped    get {:8.2f} ns/page   (the same entries taken as GUP-fast takes them, bare: increment\n"
               "#             unless zero by compare-and-swap, each page stored in the caller's array)\n"
               "#   ratio     model/shaped get {:.2f}x\n",
               rep.baseline_get_ns_per_page, rep.baseline_put_ns_per_page, rep.get_ns_per_page / rep.baseline_get_ns_per_page,
               rep.put_ns_per_page / rep.baseline_put_ns_per_page, rep.shaped_get_ns_per_page,
               rep.get_ns_per_page / rep.shaped_get_ns_per_page);
  if (opt.host_baseline) {
    if (rep.host_ok)
      fmt::print("#   host      pin {:8.2f} ns/page   unpin {:6.2f} ns/page (io_uring buffer registration, FOLL_LONGTERM, {})\n"
                 "#   ratio     model/host get {:.2f}x  put {:.2f}x\n",
                 rep.host_get_ns_per_page, rep.host_put_ns_per_page, rep.host_thp ? "host THP" : "host 4 KiB pages",
                 rep.get_ns_per_page / rep.host_get_ns_per_page, rep.put_ns_per_page / rep.host_put_ns_per_page);
    else
      fmt::print("#   host      refused, so no host ratio (the model's figures above stand): {}\n", rep.host_error);
  }
  if (!rep.oops.empty()) fmt::print("# model oops: {}\n", rep.oops);
  return fail || !rep.oops.empty() ? 1 : 0;
}

}  // namespace guplab::tools
