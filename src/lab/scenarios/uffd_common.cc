// uffd_common.cc - the userfaultfd scenarios' process.
#include "lab/scenarios/uffd_common.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>

#include <vector>

#include "base/errno.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"
#include "mm/userfaultfd.h"

namespace guplab {

int UffdProcess::setup(Machine& m, unsigned long n, uint64_t mode, bool prefault) {
  mm = mm_alloc(&m);
  if (!mm) return -ENOMEM;
  npages = n;
  const long a = vm_mmap(mm, 0, n << PAGE_SHIFT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
  if (a < 0) return static_cast<int>(a);
  addr = static_cast<unsigned long>(a);
  if (prefault) {
    std::vector<char> zeros(n << PAGE_SHIFT);
    if (int err = uaccess_write(mm, addr, zeros.data(), zeros.size())) return err;
  }
  userfaultfd_ctx* ctx = userfaultfd(mm, O_CLOEXEC);
  if (IS_ERR(ctx)) return static_cast<int>(PTR_ERR(ctx));
  uffd = ctx;
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_THREAD_ID;
  if (int err = userfaultfd_ioctl(uffd, UFFDIO_API, &api)) return err;
  uffdio_register r{};
  r.range = {addr, n << PAGE_SHIFT};
  r.mode = mode;
  return userfaultfd_ioctl(uffd, UFFDIO_REGISTER, &r);
}

void UffdProcess::close_uffd() {
  if (uffd) userfaultfd_close(uffd);
  uffd = nullptr;
}

void UffdProcess::exit() {
  close_uffd();
  if (mm) mmput(mm);
  mm = nullptr;
}

}  // namespace guplab
