// main.cc - the README's library example, as a program: boot a machine under the `bias`
// design, map 16 anonymous pages, pin them for DMA, ask whether they may be pinned,
// unpin them, and print the pin counters. Exits 0 when everything balanced.
#include <sys/mman.h>

#include <cstdio>
#include <vector>

#include "base/task.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"

int main() {
  using namespace guplab;
  MachineConfig cfg;
  cfg.ram_bytes = 64ull << 20;
  cfg.pin_design = PinDesign::bias;
  Machine m(cfg);
  int failures = 0;
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    current()->mm = mm;  // GUP works on current->mm: without this it returns -EFAULT
    const unsigned long len = 16 * PAGE_SIZE;
    long addr = vm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    std::vector<page*> pages(16);
    int n = pin_user_pages_fast(static_cast<unsigned long>(addr), 16, FOLL_WRITE, pages.data());
    std::printf("pinned %d pages; page_maybe_dma_pinned(first) = %d\n", n, page_maybe_dma_pinned(pages[0]));
    if (n != 16 || !page_maybe_dma_pinned(pages[0])) failures++;
    unpin_user_pages_dirty_lock(pages.data(), static_cast<unsigned long>(n), true);
    if (page_maybe_dma_pinned(pages[0])) failures++;
    current()->mm = nullptr;
    mmput(mm);
  });
  std::printf("nr_foll_pin_acquired %lld, nr_foll_pin_released %lld, oopses %zu, warnings %zu\n",
              static_cast<long long>(m.vmstat().read(NR_FOLL_PIN_ACQUIRED)),
              static_cast<long long>(m.vmstat().read(NR_FOLL_PIN_RELEASED)), m.oopses().size(),
              static_cast<size_t>(m.nr_warnings()));
  if (m.vmstat().read(NR_FOLL_PIN_ACQUIRED) != m.vmstat().read(NR_FOLL_PIN_RELEASED)) failures++;
  if (!m.oopses().empty() || m.nr_warnings() != 0) failures++;
  return failures ? 1 : 0;
}
