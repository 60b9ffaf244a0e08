// config.h - what a Machine boots with: RAM, THP, pin-tracking design, writeback policy,
// backend, seed. Names parse from and print to the strings the command line uses.
// Threading: plain values.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "machine/wb_policy.h"  // WritebackPolicy: what writeback does with a pinned page

namespace guplab {

struct BootCache;

/**
 * GUPLAB_PIN_DESIGNS(X) - the pin-tracking designs (DESIGN decision 5), one line each:
 * X(enumerator and command-line name, its type in mm/pin.h, what it is). The PinDesign
 * enum, kAllPinDesigns (the lab's matrix columns), the names and parsing below, and
 * pin_dispatch() in mm/pin.h all derive from this list: adding a design is one line
 * here plus its type in mm/pin.h (which must satisfy the PinDesignType concept).
 */
#define GUPLAB_PIN_DESIGNS(X)                                                                        \
  X(get, PinGet, "plain references, no tracking (pre-2019 kernels)")                                   \
  X(bias, PinBias, "seed 000: GUP_PIN_COUNTING_BIAS added to _refcount")                             \
  X(dma_count, PinDmaCount, "seed 002: dma_pinned_count in the lru field, page off the LRU")         \
  X(fake_vma, PinFakeVma, "seed 003: a pin is a fake mapping in rmap")                               \
  X(folio_pincount, PinFolioCount, "upstream: bias for small folios, _pincount for large ones")      \
  X(bias_all, PinBiasAll, "seed 000 as posted: every get_user_pages*() adds the bias; put_user_page() releases")

/** How GUP pins are tracked (DESIGN decision 5): one enumerator per GUPLAB_PIN_DESIGNS line. */
enum class PinDesign : uint8_t {
#define GUPLAB_PIN_DESIGN_ENUM(name, type, desc) name,
  GUPLAB_PIN_DESIGNS(GUPLAB_PIN_DESIGN_ENUM)
#undef GUPLAB_PIN_DESIGN_ENUM
};
/**
 * kAllPinDesigns - the built-in designs. Designs registered out of tree
 * (machine/registry.h) take the values from kFirstRegisteredPinDesign on; the lab's
 * matrix columns and the command line's names are all_pin_designs(), built-in first.
 */
inline constexpr PinDesign kAllPinDesigns[] = {
#define GUPLAB_PIN_DESIGN_ALL(name, type, desc) PinDesign::name,
    GUPLAB_PIN_DESIGNS(GUPLAB_PIN_DESIGN_ALL)
#undef GUPLAB_PIN_DESIGN_ALL
};
inline constexpr PinDesign kFirstRegisteredPinDesign =
    static_cast<PinDesign>(sizeof(kAllPinDesigns) / sizeof(kAllPinDesigns[0]));

/** The COW reuse rule of do_wp_page() (MachineConfig::cow_reuse). */
enum class CowReuse : uint8_t { refcount, mapcount };
const char* to_string(CowReuse r);
std::optional<CowReuse> parse_cow_reuse(std::string_view s);
/**
 * Which rules GUP applies to FOLL_LONGTERM pins (mm/migrate.h, docs/seeds.md D-migrate-2):
 * `seed` - the kernels of the seeds (2018-2019): a long-term pin takes whatever page is
 *          mapped, in ZONE_MOVABLE or not, file-backed or not;
 * `upstream` - what Linux settled on: pages in ZONE_MOVABLE or the CMA area are migrated
 *          out before the pin (check_and_migrate_movable_pages()), a writable long-term
 *          pin of a shared file mapping that needs dirty tracking is refused (-EFAULT;
 *          shmem/memfd allowed), and fs-DAX is refused (-EOPNOTSUPP).
 */
enum class LongtermRules : uint8_t { seed, upstream };

/** Which implementation of base/ runs the machine's tasks. */
enum class Backend : uint8_t { native, sim };

// Names, descriptions and parsing cover the built-in and the registered designs and
// policies (machine/registry.h).
const char* to_string(PinDesign d);
const char* to_string(WritebackPolicy p);
const char* to_string(Backend b);
const char* to_string(LongtermRules r);
std::optional<LongtermRules> parse_longterm_rules(std::string_view s);
/** describe() - one line on what design @d is (its GUPLAB_PIN_DESIGNS entry). */
const char* describe(PinDesign d);
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
  // Seed 001's retry protocol for GUP: off models a kernel before it, where GUP (and
  // GUP-fast's slow fallback) never set FAULT_FLAG_ALLOW_RETRY, so a fault GUP raises
  // can neither wait for I/O without mmap_lock nor for a userfaultfd handler (-EFAULT).
  bool gup_retry = true;
  // When a write fault may reuse a COW-shared anonymous page instead of copying it:
  // refcount is upstream since 5.8/5.19 ("mm: do_wp_page() simplification" 09854ba94c6a,
  // then PageAnonExclusive): only if the page is exclusive, or its only reference is
  // this mapping. mapcount is the rule before 5.8: reuse when this is the page's only
  // mapping, whatever other references (a vmsplice()d pipe, a GUP) it has: CVE-2020-29374.
  CowReuse cow_reuse = CowReuse::refcount;
  // Upstream since 6.5 refuses a FOLL_LONGTERM | FOLL_WRITE pin of a page in a shared
  // mapping of a file that needs dirty tracking (a disk filesystem; shmem is fine):
  // -EFAULT from the slow path, and GUP-fast leaves such pages to it. Off (the default)
  // is the seed-era kernel the scenarios model, where an RDMA device pins ext4 pages.
  bool refuse_longterm_file_pins = false;
  // FOLL_LONGTERM rules (LongtermRules above). `seed` by default: the seed scenarios
  // long-term pin shared file mappings in ZONE_MOVABLE, which the seed-era kernels allowed.
  LongtermRules longterm_rules = LongtermRules::seed;
  // A CMA-like area: the last cma_bytes of ZONE_NORMAL (a multiple of 4 KiB; 0: none).
  // Its pages are handed out as any ZONE_NORMAL page is (the model has no per-migratetype
  // free lists), but a long-term pin under the upstream rules migrates them out.
  uint64_t cma_bytes = 0;
  // A pmem region (the kernel's memmap=nn!ss): this many bytes of RAM, a multiple of
  // 2 MiB, taken from ZONE_MOVABLE at boot as ZONE_DEVICE frames behind the block device
  // "pmem0" (block/pmem.h), which fs-DAX maps directly. 0: none.
  uint64_t pmem_bytes = 0;
  BootCache* boot_cache = nullptr;  // host mappings and stacks to reuse (not owned; machine/boot_cache.h)
};

}  // namespace guplab
