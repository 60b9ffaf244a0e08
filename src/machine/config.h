// config.h - what a Machine boots with: RAM, THP, pin-tracking design, writeback policy,
// backend, seed. Names parse from and print to the strings the command line uses.
// Threading: plain values.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace guplab {

struct BootCache;

/** How GUP pins are tracked (DESIGN decision 5). */
enum class PinDesign : uint8_t {
  get,             // plain references, no tracking (pre-2019 kernels)
  bias,            // seed 000: GUP_PIN_COUNTING_BIAS added to _refcount
  dma_count,       // seed 002: dma_pinned_count in the lru field, page off the LRU
  fake_vma,        // seed 003: a pin is a fake mapping in rmap
  folio_pincount,  // upstream: bias for small folios, _pincount for large ones
};
inline constexpr PinDesign kAllPinDesigns[] = {PinDesign::get, PinDesign::bias, PinDesign::dma_count,
                                               PinDesign::fake_vma, PinDesign::folio_pincount};

/** What writeback does with a page that may be DMA-pinned (DESIGN decision 6). */
enum class WritebackPolicy : uint8_t { ignore, skip, wait, bounce, keep_dirty, revoke };
inline constexpr WritebackPolicy kAllWritebackPolicies[] = {
    WritebackPolicy::ignore, WritebackPolicy::skip,       WritebackPolicy::wait,
    WritebackPolicy::bounce, WritebackPolicy::keep_dirty, WritebackPolicy::revoke};

/** Which implementation of base/ runs the machine's tasks. */
enum class Backend : uint8_t { native, sim };

const char* to_string(PinDesign d);
const char* to_string(WritebackPolicy p);
const char* to_string(Backend b);
std::optional<PinDesign> parse_pin_design(std::string_view s);
std::optional<WritebackPolicy> parse_writeback_policy(std::string_view s);
/** parse_size() - "512M", "1g", "4096", "4k" -> bytes. */
std::optional<uint64_t> parse_size(std::string_view s);

struct MachineConfig {
  uint64_t ram_bytes = 256ull << 20;  // physical memory, a multiple of 2 MiB
  unsigned normal_zone_percent = 25;  // the rest is ZONE_MOVABLE
  bool thp = true;                    // transparent huge pages on HUGEPAGE vmas / aligned
  bool thp_always = false;            // THP on every suitably aligned anonymous vma
  PinDesign pin_design = PinDesign::folio_pincount;
  WritebackPolicy wb_policy = WritebackPolicy::skip;
  Backend backend = Backend::native;
  uint64_t seed = 1;
  bool trace = false;  // keep a ring of recent events for oops reports
  unsigned trace_ring = 256;
  // hugetlb pools reserved at boot (the kernel's hugepagesz=2M hugepages=N and
  // hugepagesz=1G hugepages=N): 2 MiB folios from ZONE_MOVABLE's buddy lists, 1 GiB
  // folios carved out of ZONE_MOVABLE as gigantic pages are (mm/hugetlb.h). A pool the
  // RAM cannot hold refuses the boot (std::invalid_argument naming the limit).
  unsigned long hugetlb_2m_pages = 0;
  unsigned long hugetlb_1g_pages = 0;
  BootCache* boot_cache = nullptr;  // host mappings and stacks to reuse (not owned; machine/boot_cache.h)
};

}  // namespace guplab
