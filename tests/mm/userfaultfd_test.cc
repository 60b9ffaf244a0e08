// userfaultfd_test.cc - userfaultfd contexts: every ioctl's errors (as fs/userfaultfd.c
// and mm/userfaultfd.c return them), handle_userfault() with and without
// FAULT_FLAG_ALLOW_RETRY, and (sim backend, seeded) GUP and user accesses resolved by a
// handler task.
#include "mm/userfaultfd.h"

#include <fcntl.h>

#include <cstring>
#include <functional>
#include <vector>

#include "base/sched.h"
#include "mm/gup.h"
#include "mm/madvise.h"
#include "mm/mm_fixture.h"
#include "mm/pin.h"

namespace guplab::test {
namespace {

constexpr unsigned long P = PAGE_SIZE;

int api(userfaultfd_ctx* ctx, uint64_t features = 0) {
  uffdio_api a{};
  a.api = UFFD_API;
  a.features = features;
  return userfaultfd_ioctl(ctx, UFFDIO_API, &a);
}
int reg(userfaultfd_ctx* ctx, unsigned long start, unsigned long len, uint64_t mode = UFFDIO_REGISTER_MODE_MISSING) {
  uffdio_register r{};
  r.range.start = start;
  r.range.len = len;
  r.mode = mode;
  return userfaultfd_ioctl(ctx, UFFDIO_REGISTER, &r);
}
int unreg(userfaultfd_ctx* ctx, unsigned long start, unsigned long len) {
  uffdio_range r{start, len};
  return userfaultfd_ioctl(ctx, UFFDIO_UNREGISTER, &r);
}
int copy(userfaultfd_ctx* ctx, unsigned long dst, unsigned long src, unsigned long len, uint64_t mode = 0,
         long* done = nullptr) {
  uffdio_copy c{};
  c.dst = dst;
  c.src = src;
  c.len = len;
  c.mode = mode;
  int r = userfaultfd_ioctl(ctx, UFFDIO_COPY, &c);
  if (done) *done = c.copy;
  return r;
}
int zeropage(userfaultfd_ctx* ctx, unsigned long start, unsigned long len, uint64_t mode = 0) {
  uffdio_zeropage z{};
  z.range = {start, len};
  z.mode = mode;
  return userfaultfd_ioctl(ctx, UFFDIO_ZEROPAGE, &z);
}
int wp(userfaultfd_ctx* ctx, unsigned long start, unsigned long len, uint64_t mode) {
  uffdio_writeprotect w{};
  w.range = {start, len};
  w.mode = mode;
  return userfaultfd_ioctl(ctx, UFFDIO_WRITEPROTECT, &w);
}
int cont(userfaultfd_ctx* ctx, unsigned long start, unsigned long len, uint64_t mode = 0, long* mapped = nullptr) {
  uffdio_continue c{};
  c.range = {start, len};
  c.mode = mode;
  int r = userfaultfd_ioctl(ctx, UFFDIO_CONTINUE, &c);
  if (mapped) *mapped = c.mapped;
  return r;
}
int wake(userfaultfd_ctx* ctx, unsigned long start, unsigned long len) {
  uffdio_range r{start, len};
  return userfaultfd_ioctl(ctx, UFFDIO_WAKE, &r);
}

// get_user_pages()/pin_user_pages() of one page under mmap_lock (no *locked: no ALLOW_RETRY).
long gup_held(mm_struct* mm, unsigned long a, foll_flags f, page** pages, bool pin = false) {
  mmap_read_lock(mm);
  long r = pin ? pin_user_pages(a, 1, f, pages) : get_user_pages(a, 1, f, pages);
  mmap_read_unlock(mm);
  return r;
}

class UserfaultfdTest : public MmTest {
 protected:
  void SetUp() override {
    MmTest::SetUp();
    ctx_ = userfaultfd(mm_, O_CLOEXEC);
    ASSERT_FALSE(IS_ERR(ctx_));
  }
  void TearDown() override {
    if (ctx_) userfaultfd_close(ctx_);
    MmTest::TearDown();
  }
  userfaultfd_ctx* ctx_ = nullptr;
};

TEST_F(UserfaultfdTest, ApiMustComeFirstAndOnlyOnce) {
  EXPECT_EQ(PTR_ERR(userfaultfd(mm_, O_RDWR)), -EINVAL);
  const unsigned long a = map(4 * P);
  EXPECT_EQ(reg(ctx_, a, P), -EINVAL);
  uffd_msg msg;
  EXPECT_EQ(userfaultfd_read(ctx_, &msg, true), -EINVAL);
  uffdio_api bad{};
  bad.api = UFFD_API + 1;
  EXPECT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_API, &bad), -EINVAL);
  bad.api = UFFD_API;
  bad.features = UFFD_FEATURE_EVENT_REMAP;  // not in the model (no mremap)
  EXPECT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_API, &bad), -EINVAL);
  EXPECT_EQ(bad.features, 0u);  // zeroed on error, as the kernel does
  uffdio_api ok{};
  ok.api = UFFD_API;
  ASSERT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_API, &ok), 0);
  EXPECT_TRUE(ok.features & UFFD_FEATURE_THREAD_ID);
  EXPECT_TRUE(ok.ioctls & (1ull << _UFFDIO_REGISTER));
  EXPECT_EQ(api(ctx_), -EINVAL);  // a second UFFDIO_API
  EXPECT_EQ(userfaultfd_ioctl(ctx_, 0xdead, &ok), -EINVAL);
  EXPECT_EQ(userfaultfd_read(ctx_, &msg, true), -EAGAIN);  // nothing queued
}

TEST_F(UserfaultfdTest, ApiNegotiatesTheEvents) {
  uffdio_api a{};
  a.api = UFFD_API;
  a.features = 1ull << 63;  // unknown bit
  EXPECT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_API, &a), -EINVAL);
  EXPECT_EQ(a.features, 0u);
  EXPECT_EQ(a.ioctls, 0u);
  a = {};
  a.api = UFFD_API;
  a.features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP;
  EXPECT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_API, &a), -EINVAL);  // REMAP: the model has no mremap
  a = {};
  a.api = UFFD_API;
  a.features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
  ASSERT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_API, &a), 0);
  constexpr uint64_t kEvents = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;
  EXPECT_EQ(a.features & kEvents, kEvents);  // what the model offers
  EXPECT_FALSE(a.features & UFFD_FEATURE_EVENT_REMAP);
  EXPECT_EQ(api(ctx_, UFFD_FEATURE_EVENT_FORK), -EINVAL);  // a second UFFDIO_API, even with features
  uffd_msg msg;
  EXPECT_EQ(userfaultfd_read(ctx_, &msg, true), -EAGAIN);  // nothing sent yet
  EXPECT_EQ(userfaultfd_nr_events(ctx_), 0);
  EXPECT_EQ(userfaultfd_fork_ctx(&msg), nullptr);
}

TEST_F(UserfaultfdTest, RegisterErrors) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(8 * P);
  EXPECT_EQ(reg(ctx_, a + 1, P), -EINVAL);  // misaligned start
  EXPECT_EQ(reg(ctx_, a, P + 1), -EINVAL);  // misaligned len
  EXPECT_EQ(reg(ctx_, a, 0), -EINVAL);
  EXPECT_EQ(reg(ctx_, a, P, 0), -EINVAL);   // no mode
  EXPECT_EQ(reg(ctx_, a, P, 1ull << 7), -EINVAL);
  EXPECT_EQ(reg(ctx_, a, P, UFFDIO_REGISTER_MODE_MINOR), -EINVAL);  // anonymous: no page cache, no minor faults
  EXPECT_EQ(reg(ctx_, a + 16 * P, P), -EINVAL);                      // no vma there
  const unsigned long shared = map(2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(reg(ctx_, shared, P), -EINVAL);  // shmem: MINOR only in the model
  EXPECT_EQ(reg(ctx_, shared, P, UFFDIO_REGISTER_MODE_WP), -EINVAL);
  EXPECT_EQ(reg(ctx_, shared, P, UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_MISSING), -EINVAL);
  const unsigned long ro = map(2 * P, PROT_READ, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(reg(ctx_, ro, P), -EINVAL);

  uffdio_register r{};
  r.range = {a + 2 * P, 2 * P};
  r.mode = UFFDIO_REGISTER_MODE_MISSING;
  ASSERT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_REGISTER, &r), 0);
  EXPECT_TRUE(r.ioctls & (1ull << _UFFDIO_COPY));
  EXPECT_FALSE(r.ioctls & (1ull << _UFFDIO_WRITEPROTECT));
  vm_area_struct* v = lookup(a + 2 * P);
  EXPECT_EQ(v->vm_start, a + 2 * P);  // split at both ends
  EXPECT_EQ(v->vm_end, a + 4 * P);
  EXPECT_TRUE(userfaultfd_missing(v));
  EXPECT_FALSE(userfaultfd_armed(lookup(a)));
  EXPECT_EQ(reg(ctx_, a, 8 * P, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP), 0);  // same ctx: again is fine

  userfaultfd_ctx* other = userfaultfd(mm_, 0);
  ASSERT_EQ(api(other), 0);
  EXPECT_EQ(reg(other, a + 3 * P, 2 * P), -EBUSY);  // overlaps ctx_'s registration
  EXPECT_EQ(lookup(a + 4 * P)->vm_userfaultfd_ctx, ctx_);  // unchanged
  userfaultfd_close(other);
}

TEST_F(UserfaultfdTest, UnregisterErrorsAndEffect) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(4 * P);
  EXPECT_EQ(unreg(ctx_, a + 1, P), -EINVAL);
  EXPECT_EQ(unreg(ctx_, a, 0), -EINVAL);
  EXPECT_EQ(unreg(ctx_, a + 8 * P, P), -EINVAL);  // no vma
  EXPECT_EQ(unreg(ctx_, a, P), 0);                // not registered: nothing to do
  ASSERT_EQ(reg(ctx_, a, 4 * P), 0);
  EXPECT_EQ(fault(a, FAULT_FLAG_WRITE), VM_FAULT_SIGBUS);  // registered, no ALLOW_RETRY
  ASSERT_EQ(unreg(ctx_, a, 4 * P), 0);
  EXPECT_FALSE(userfaultfd_armed(lookup(a)));
  EXPECT_EQ(fault(a, FAULT_FLAG_WRITE), VM_FAULT_NONE);  // an ordinary fault again
}

TEST_F(UserfaultfdTest, CopyErrorsAndData) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(4 * P), src = map(4 * P);
  put_u64(src, 0x1234);
  put_u64(src + P, 0x5678);
  EXPECT_EQ(copy(ctx_, a, src, P), -ENOENT);  // not registered
  ASSERT_EQ(reg(ctx_, a, 4 * P), 0);
  EXPECT_EQ(copy(ctx_, a + 1, src, P), -EINVAL);
  EXPECT_EQ(copy(ctx_, a, src, P + 1), -EINVAL);
  EXPECT_EQ(copy(ctx_, a, src, 0), -EINVAL);
  EXPECT_EQ(copy(ctx_, a, ~0ul - 10, P), -EINVAL);                 // src wraps
  EXPECT_EQ(copy(ctx_, a, src, P, 1ull << 5), -EINVAL);            // unknown mode
  EXPECT_EQ(copy(ctx_, a, src, P, UFFDIO_COPY_MODE_WP), -EINVAL);  // not WP-registered
  EXPECT_EQ(copy(ctx_, a + 2 * P, src, 4 * P), -ENOENT);           // runs past the registered vma
  long done = -1;
  ASSERT_EQ(copy(ctx_, a, src, 2 * P, 0, &done), 0);
  EXPECT_EQ(done, static_cast<long>(2 * P));
  EXPECT_EQ(get_u64(a), 0x1234u);
  EXPECT_EQ(get_u64(a + P), 0x5678u);
  EXPECT_EQ(copy(ctx_, a, src, P, 0, &done), -EEXIST);  // over a present page
  EXPECT_EQ(done, -EEXIST);
  EXPECT_EQ(copy(ctx_, a + P, src, 2 * P, 0, &done), -EEXIST);  // the first page is present
  EXPECT_EQ(copy(ctx_, a + 2 * P, src, P, 0, &done), 0);
  EXPECT_EQ(zeropage(ctx_, a + 3 * P, P), 0);
  EXPECT_EQ(copy(ctx_, a + 3 * P, src, P), -EEXIST);  // over the zero page too
}

TEST_F(UserfaultfdTest, CopyPartialIsEagain) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(4 * P), src = map(4 * P);
  ASSERT_EQ(reg(ctx_, a, 4 * P), 0);
  ASSERT_EQ(copy(ctx_, a + P, src, P), 0);
  long done = -1;
  EXPECT_EQ(copy(ctx_, a, src, 2 * P, 0, &done), -EAGAIN);
  EXPECT_EQ(done, static_cast<long>(P));
  EXPECT_EQ(copy(ctx_, a + 2 * P, 0x1000, P, 0, &done), -EFAULT);  // unreadable source
}

TEST_F(UserfaultfdTest, ZeropageErrors) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(4 * P);
  EXPECT_EQ(zeropage(ctx_, a, P), -ENOENT);
  ASSERT_EQ(reg(ctx_, a, 4 * P), 0);
  EXPECT_EQ(zeropage(ctx_, a + 1, P), -EINVAL);
  EXPECT_EQ(zeropage(ctx_, a, P, UFFDIO_COPY_MODE_WP), -EINVAL);  // only DONTWAKE
  ASSERT_EQ(zeropage(ctx_, a, P), 0);
  EXPECT_EQ(get_u64(a), 0u);
  EXPECT_EQ(zeropage(ctx_, a, P), -EEXIST);
  EXPECT_EQ(vs(NR_ANON_MAPPED), 0);  // the shared zero page, no page of its own
}

TEST_F(UserfaultfdTest, WriteprotectAndWakeErrors) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(4 * P);
  EXPECT_EQ(wp(ctx_, a, P, UFFDIO_WRITEPROTECT_MODE_WP), -ENOENT);  // not registered
  ASSERT_EQ(reg(ctx_, a, 2 * P, UFFDIO_REGISTER_MODE_MISSING), 0);
  EXPECT_EQ(wp(ctx_, a, P, UFFDIO_WRITEPROTECT_MODE_WP), -ENOENT);  // registered, but not for WP
  ASSERT_EQ(reg(ctx_, a + 2 * P, 2 * P, UFFDIO_REGISTER_MODE_WP), 0);
  EXPECT_EQ(wp(ctx_, a + 2 * P + 1, P, UFFDIO_WRITEPROTECT_MODE_WP), -EINVAL);
  EXPECT_EQ(wp(ctx_, a + 2 * P, 0, UFFDIO_WRITEPROTECT_MODE_WP), -EINVAL);
  EXPECT_EQ(wp(ctx_, a + 2 * P, P, 1ull << 4), -EINVAL);
  EXPECT_EQ(wp(ctx_, a + 2 * P, P, UFFDIO_WRITEPROTECT_MODE_WP | UFFDIO_WRITEPROTECT_MODE_DONTWAKE), -EINVAL);
  EXPECT_EQ(wp(ctx_, a + P, 2 * P, UFFDIO_WRITEPROTECT_MODE_WP), -ENOENT);  // partly outside WP
  EXPECT_EQ(wake(ctx_, a + 1, P), -EINVAL);
  EXPECT_EQ(wake(ctx_, a, 0), -EINVAL);
  EXPECT_EQ(wake(ctx_, a, P), 0);
}

TEST_F(UserfaultfdTest, WriteProtectedPageFaultsToTheHandler) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(2 * P);
  put_u64(a, 7);
  ASSERT_EQ(reg(ctx_, a, 2 * P, UFFDIO_REGISTER_MODE_WP), 0);
  ASSERT_EQ(wp(ctx_, a, P, UFFDIO_WRITEPROTECT_MODE_WP), 0);
  EXPECT_TRUE(pte_uffd_wp(pte_at(a)));
  EXPECT_FALSE(pte_write(pte_at(a)));
  EXPECT_EQ(get_u64(a), 7u);                                // reads are fine
  EXPECT_EQ(fault(a, FAULT_FLAG_WRITE), VM_FAULT_SIGBUS);  // a write cannot wait here
  page* pages[1];
  EXPECT_EQ(gup_held(mm_, a, FOLL_WRITE, pages), -EFAULT);
  EXPECT_EQ(gup_held(mm_, a, FOLL_WRITE | FOLL_FORCE, pages), -EFAULT);  // FOLL_FORCE too
  ASSERT_EQ(wp(ctx_, a, P, 0), 0);  // resolve
  EXPECT_FALSE(pte_uffd_wp(pte_at(a)));
  put_u64(a, 8);
  EXPECT_EQ(get_u64(a), 8u);
}

TEST_F(UserfaultfdTest, MissingWithoutAllowRetryIsSigbusAndEfault) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(2 * P);
  ASSERT_EQ(reg(ctx_, a, 2 * P), 0);
  EXPECT_EQ(fault(a, FAULT_FLAG_NONE), VM_FAULT_SIGBUS);  // read: no zero page either
  page* pages[1];
  EXPECT_EQ(gup_held(mm_, a, FOLL_WRITE, pages), -EFAULT);
  EXPECT_EQ(gup_held(mm_, a, FOLL_WRITE, pages, true), -EFAULT);
  EXPECT_EQ(userfaultfd_nr_waiting(ctx_), 0);
}

TEST_F(UserfaultfdTest, MinorOnShmemAndContinue) {
  uffdio_api a{};
  a.api = UFFD_API;
  a.features = UFFD_FEATURE_MINOR_SHMEM;
  ASSERT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_API, &a), 0);
  EXPECT_TRUE(a.features & UFFD_FEATURE_MINOR_SHMEM);
  const unsigned long s = map(4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  const unsigned long anon = map(2 * P);
  put_u64(s, 0x1111);
  put_u64(s + P, 0x2222);
  // The pages stay in the shmem object; the mapping goes: the next touch is a minor fault.
  ASSERT_EQ(do_madvise(mm_, s, 2 * P, MADV_DONTNEED), 0);
  EXPECT_EQ(cont(ctx_, s, P), -ENOENT);  // not registered
  uffdio_register r{};
  r.range = {s, 4 * P};
  r.mode = UFFDIO_REGISTER_MODE_MINOR;
  ASSERT_EQ(userfaultfd_ioctl(ctx_, UFFDIO_REGISTER, &r), 0);
  EXPECT_TRUE(r.ioctls & (1ull << _UFFDIO_CONTINUE));
  EXPECT_FALSE(r.ioctls & (1ull << _UFFDIO_WRITEPROTECT));
  EXPECT_TRUE(userfaultfd_minor(lookup(s)));
  // In the object, not mapped: the fault goes to the handler (here it cannot wait).
  EXPECT_EQ(fault(s, FAULT_FLAG_NONE), VM_FAULT_SIGBUS);
  page* pages[1];
  EXPECT_EQ(gup_held(mm_, s, FOLL_WRITE, pages), -EFAULT);
  // Not in the object: an ordinary shmem fault, nothing for the handler.
  EXPECT_EQ(fault(s + 2 * P, FAULT_FLAG_WRITE), VM_FAULT_NONE);

  EXPECT_EQ(cont(ctx_, s + 1, P), -EINVAL);
  EXPECT_EQ(cont(ctx_, s, 0), -EINVAL);
  EXPECT_EQ(cont(ctx_, s, P, 1ull << 5), -EINVAL);          // unknown mode
  EXPECT_EQ(cont(ctx_, s + 2 * P, 4 * P), -ENOENT);         // runs past the registered vma
  ASSERT_EQ(reg(ctx_, anon, 2 * P), 0);
  EXPECT_EQ(cont(ctx_, anon, P), -EINVAL);                  // anonymous: nothing to continue
  EXPECT_EQ(cont(ctx_, s + 3 * P, P), -EFAULT);             // no page in the object there
  long mapped = 0;
  ASSERT_EQ(cont(ctx_, s, 2 * P, 0, &mapped), 0);
  EXPECT_EQ(mapped, static_cast<long>(2 * P));
  EXPECT_EQ(get_u64(s), 0x1111u);  // the object's page, as it was
  EXPECT_EQ(get_u64(s + P), 0x2222u);
  EXPECT_TRUE(pte_write(pte_at(s)));
  EXPECT_EQ(cont(ctx_, s, P, 0, &mapped), -EEXIST);          // already mapped
  EXPECT_EQ(mapped, -EEXIST);
  EXPECT_EQ(cont(ctx_, s + 2 * P, P), -EEXIST);              // mapped by the ordinary fault
  const unsigned long src = map(P);
  put_u64(src, 1);
  EXPECT_EQ(copy(ctx_, s + 3 * P, src, P), -EINVAL);         // COPY is for MISSING (anonymous) ranges
  ASSERT_EQ(unreg(ctx_, s, 4 * P), 0);
  EXPECT_FALSE(userfaultfd_armed(lookup(s)));
}

TEST_F(UserfaultfdTest, ForkAndCloseDropRegistration) {
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(2 * P);
  ASSERT_EQ(reg(ctx_, a, 2 * P), 0);
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  mmap_read_lock(child);
  vm_area_struct* cv = vma_lookup(child, a);
  EXPECT_FALSE(userfaultfd_armed(cv));
  EXPECT_EQ(cv->vm_userfaultfd_ctx, nullptr);
  mmap_read_unlock(child);
  mmput(child);
  userfaultfd_close(ctx_);
  ctx_ = nullptr;
  EXPECT_FALSE(userfaultfd_armed(lookup(a)));
  EXPECT_EQ(lookup(a)->vm_userfaultfd_ctx, nullptr);
}

TEST_F(UserfaultfdTest, ForkWithoutTheForkEventLeavesNoWriteProtectBitInTheChild) {
  // The child's vma has no context (no UFFD_FEATURE_EVENT_FORK), so the copied ptes carry
  // no uffd-wp bit: a write in the child is an ordinary COW fault, never the handler's.
  ASSERT_EQ(api(ctx_), 0);
  const unsigned long a = map(2 * P);
  put_u64(a, 7);
  put_u64(a + P, 9);
  ASSERT_EQ(reg(ctx_, a, 2 * P, UFFDIO_REGISTER_MODE_WP), 0);
  ASSERT_EQ(wp(ctx_, a, 2 * P, UFFDIO_WRITEPROTECT_MODE_WP), 0);
  page* pinned[1];
  ASSERT_EQ(gup_held(mm_, a + P, FOLL_LONGTERM, pinned, true), 1);  // a + P is copied at fork
  mm_struct* child = dup_mm(mm_);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(pte_uffd_wp(pte_at(a)));  // the parent keeps its protection
  EXPECT_TRUE(pte_uffd_wp(pte_at(a + P)));
  EXPECT_FALSE(pte_uffd_wp(pte_at(a, child))) << "shared at fork";
  EXPECT_FALSE(pte_uffd_wp(pte_at(a + P, child))) << "copied at fork (pinned)";
  EXPECT_EQ(fault(a, FAULT_FLAG_WRITE, child), VM_FAULT_NONE);
  EXPECT_EQ(fault(a, FAULT_FLAG_WRITE), VM_FAULT_SIGBUS) << "the parent's write still goes to the handler";
  unpin_user_page(pinned[0]);
  mmput(child);
}

// ---- the handler protocol, on the sim backend -----------------------------------------

enum class Caller { pin_fast, pin_unlocked, gup_unlocked, gup_locked, user_read };

const char* name(Caller c) {
  switch (c) {
    case Caller::pin_fast: return "pin_user_pages_fast";
    case Caller::pin_unlocked: return "pin_user_pages_unlocked";
    case Caller::gup_unlocked: return "get_user_pages_unlocked";
    case Caller::gup_locked: return "get_user_pages_locked";
    case Caller::user_read: return "copy_from_user";
  }
  return "?";
}

// One run: @caller touches a MISSING-registered page; a handler task (when
// @with_handler) reads the message and UFFDIO_COPYs a page of 0xab.. into place.
// Returns the caller's result (pages / 0 on success, -errno) and the value it saw.
struct Outcome {
  long ret = 0;
  uint64_t seen = 0;
  uffd_msg msg{};
  int caller_pid = 0;
};

// get_user_pages_locked() as a caller holding mmap_lock does it (*locked protocol).
long gup_locked_once(mm_struct* mm, unsigned long a, page** pages) NO_THREAD_SAFETY_ANALYSIS {
  int locked = 1;
  mmap_read_lock(mm);
  long r = get_user_pages_locked(mm, a, 1, FOLL_WRITE, pages, &locked);
  if (locked) mmap_read_unlock(mm);
  return r;
}

Outcome run_one(Caller caller, bool gup_retry, uint64_t seed, bool with_handler) {
  MachineConfig c = small_config();
  c.backend = Backend::sim;
  c.seed = seed;
  c.gup_retry = gup_retry;
  Machine m(c);
  Outcome o;
  constexpr uint64_t kPattern = 0xabcdef0123456789ull;
  m.run([&] {
    mm_struct* mm = mm_alloc(&m);
    const auto a = static_cast<unsigned long>(vm_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0));
    const auto src = static_cast<unsigned long>(vm_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0));
    ASSERT_EQ(uaccess_write(mm, src, &kPattern, sizeof(kPattern)), 0);
    userfaultfd_ctx* ctx = userfaultfd(mm, 0);
    ASSERT_EQ(api(ctx, UFFD_FEATURE_THREAD_ID), 0);
    ASSERT_EQ(reg(ctx, a, 2 * P), 0);
    task_struct* t = m.spawn("caller", [&] {
      page* pages[1] = {nullptr};
      long r = 0;
      switch (caller) {
        case Caller::pin_fast: r = pin_user_pages_fast(a, 1, FOLL_WRITE, pages); break;
        case Caller::pin_unlocked: r = pin_user_pages_unlocked(a, 1, pages, FOLL_WRITE); break;
        case Caller::gup_unlocked: r = get_user_pages_unlocked(a, 1, pages, FOLL_WRITE); break;
        case Caller::gup_locked: r = gup_locked_once(mm, a, pages); break;
        case Caller::user_read: {
          uint64_t v = 0;
          r = uaccess_read(mm, a, &v, sizeof(v));
          o.seen = v;
          break;
        }
      }
      o.ret = r;
      if (r == 1) {
        std::memcpy(&o.seen, page_address(pages[0]), sizeof(o.seen));
        if (caller == Caller::pin_fast || caller == Caller::pin_unlocked) unpin_user_page(pages[0]);
        else put_page(pages[0]);
      }
    }, mm);
    o.caller_pid = t->pid;
    task_struct* h = nullptr;
    if (with_handler) {
      h = m.spawn("handler", [&] {
        ASSERT_EQ(userfaultfd_read(ctx, &o.msg), static_cast<long>(sizeof(uffd_msg)));
        ASSERT_EQ(copy(ctx, o.msg.arg.pagefault.address & PAGE_MASK, src, P), 0);
      }, mm);
    }
    task_join(t);
    if (h) task_join(h);
    EXPECT_EQ(userfaultfd_nr_waiting(ctx), 0);
    userfaultfd_close(ctx);
    mmput(mm);
  });
  EXPECT_TRUE(m.sim_result() && m.sim_result()->ok()) << (m.sim_result() ? m.sim_result()->format() : "");
  EXPECT_EQ(m.nr_oops(), 0u) << (m.nr_oops() ? m.oopses()[0].format() : "");
  EXPECT_EQ(m.vmstat().read(NR_FOLL_PIN_ACQUIRED), m.vmstat().read(NR_FOLL_PIN_RELEASED));
  if (o.ret == 1 || (caller == Caller::user_read && o.ret == 0)) EXPECT_EQ(o.seen, kPattern) << name(caller);
  return o;
}

TEST(UserfaultfdSimTest, GupAndUserFaultsResolveThroughTheHandler) {
  for (Caller c : {Caller::pin_fast, Caller::pin_unlocked, Caller::gup_unlocked, Caller::gup_locked,
                   Caller::user_read}) {
    for (uint64_t seed = 1; seed <= 8; seed++) {
      Outcome o = run_one(c, true, seed, true);
      const long want = c == Caller::user_read ? 0 : 1;
      EXPECT_EQ(o.ret, want) << name(c) << " seed " << seed;
      EXPECT_EQ(o.msg.event, UFFD_EVENT_PAGEFAULT);
      EXPECT_EQ(o.msg.arg.pagefault.address, o.msg.arg.pagefault.address & PAGE_MASK);
      EXPECT_EQ(static_cast<int>(o.msg.arg.pagefault.feat.ptid), o.caller_pid) << name(c);
      EXPECT_EQ((o.msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0, c != Caller::user_read) << name(c);
    }
  }
}

TEST(UserfaultfdSimTest, WithoutGupRetryGupFailsWithEfault) {
  // A kernel before seed 001: GUP's faults cannot wait for the handler.
  for (Caller c : {Caller::pin_fast, Caller::pin_unlocked, Caller::gup_unlocked, Caller::gup_locked}) {
    for (uint64_t seed = 1; seed <= 4; seed++) {
      Outcome o = run_one(c, false, seed, false);
      EXPECT_EQ(o.ret, -EFAULT) << name(c) << " seed " << seed;
    }
  }
}

TEST(UserfaultfdSimTest, MinorFaultResolvedByContinue) {
  for (bool gup : {false, true}) {
    for (uint64_t seed = 1; seed <= 6; seed++) {
      MachineConfig c = small_config();
      c.backend = Backend::sim;
      c.seed = seed;
      Machine m(c);
      uint64_t seen = 0;
      long ret = -1;
      uffd_msg msg{};
      m.run([&] {
        mm_struct* mm = mm_alloc(&m);
        const auto a = static_cast<unsigned long>(vm_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, nullptr, 0));
        const uint64_t v = 0x5eed;
        ASSERT_EQ(uaccess_write(mm, a, &v, sizeof(v)), 0);
        ASSERT_EQ(do_madvise(mm, a, P, MADV_DONTNEED), 0);
        userfaultfd_ctx* ctx = userfaultfd(mm, 0);
        ASSERT_EQ(api(ctx, UFFD_FEATURE_MINOR_SHMEM), 0);
        ASSERT_EQ(reg(ctx, a, P, UFFDIO_REGISTER_MODE_MINOR), 0);
        task_struct* t = m.spawn("toucher", [&] {
          if (gup) {
            page* pages[1] = {nullptr};
            ret = pin_user_pages_fast(a, 1, FOLL_WRITE, pages);
            if (ret == 1) {
              std::memcpy(&seen, page_address(pages[0]), sizeof(seen));
              unpin_user_page(pages[0]);
            }
          } else {
            ret = uaccess_read(mm, a, &seen, sizeof(seen));
          }
        }, mm);
        task_struct* h = m.spawn("handler", [&] {
          ASSERT_EQ(userfaultfd_read(ctx, &msg), static_cast<long>(sizeof(uffd_msg)));
          ASSERT_EQ(cont(ctx, msg.arg.pagefault.address & PAGE_MASK, P), 0);
        }, mm);
        task_join(t);
        task_join(h);
        userfaultfd_close(ctx);
        mmput(mm);
      });
      EXPECT_TRUE(m.sim_result() && m.sim_result()->ok()) << (m.sim_result() ? m.sim_result()->format() : "");
      EXPECT_EQ(m.nr_oops(), 0u);
      EXPECT_EQ(ret, gup ? 1 : 0) << "seed " << seed;
      EXPECT_EQ(seen, 0x5eedu) << "the page the object held, mapped by UFFDIO_CONTINUE";
      EXPECT_TRUE(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR);
      EXPECT_EQ(m.vmstat().read(NR_FOLL_PIN_ACQUIRED), m.vmstat().read(NR_FOLL_PIN_RELEASED));
    }
  }
}

TEST(UserfaultfdSimTest, WriteProtectFaultWaitsForUnprotect) {
  for (uint64_t seed = 1; seed <= 8; seed++) {
    MachineConfig c = small_config();
    c.backend = Backend::sim;
    c.seed = seed;
    Machine m(c);
    uint64_t after = 0;
    uffd_msg msg{};
    m.run([&] {
      mm_struct* mm = mm_alloc(&m);
      const auto a = static_cast<unsigned long>(vm_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0));
      uint64_t v = 1;
      ASSERT_EQ(uaccess_write(mm, a, &v, sizeof(v)), 0);
      userfaultfd_ctx* ctx = userfaultfd(mm, 0);
      ASSERT_EQ(api(ctx), 0);
      ASSERT_EQ(reg(ctx, a, P, UFFDIO_REGISTER_MODE_WP), 0);
      ASSERT_EQ(wp(ctx, a, P, UFFDIO_WRITEPROTECT_MODE_WP), 0);
      task_struct* w = m.spawn("writer", [&] {
        uint64_t two = 2;
        EXPECT_EQ(uaccess_write(mm, a, &two, sizeof(two)), 0);
      }, mm);
      task_struct* h = m.spawn("handler", [&] {
        ASSERT_EQ(userfaultfd_read(ctx, &msg), static_cast<long>(sizeof(uffd_msg)));
        ASSERT_EQ(wp(ctx, a, P, 0), 0);  // un-protect and wake
      }, mm);
      task_join(w);
      task_join(h);
      ASSERT_EQ(uaccess_read(mm, a, &after, sizeof(after)), 0);
      userfaultfd_close(ctx);
      mmput(mm);
    });
    EXPECT_TRUE(m.sim_result() && m.sim_result()->ok()) << (m.sim_result() ? m.sim_result()->format() : "");
    EXPECT_EQ(m.nr_oops(), 0u);
    EXPECT_EQ(after, 2u) << "seed " << seed;
    EXPECT_TRUE(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP);
    EXPECT_TRUE(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE);
  }
}

// ---- events (UFFD_FEATURE_EVENT_FORK / _REMOVE / _UNMAP), on the sim backend ---------

// One sim machine running @body (as its first task) from @seed; the run must end
// cleanly (a task blocked for good is a deadlock the sim reports).
template <typename Body>
void run_sim(uint64_t seed, Body body) {
  MachineConfig c = small_config();
  c.backend = Backend::sim;
  c.seed = seed;
  Machine m(c);
  m.run([&] { body(m); });
  EXPECT_TRUE(m.sim_result() && m.sim_result()->ok()) << "seed " << seed << ": "
                                                       << (m.sim_result() ? m.sim_result()->format() : "");
  EXPECT_EQ(m.nr_oops(), 0u) << (m.nr_oops() ? m.oopses()[0].format() : "");
}

unsigned long sim_map(mm_struct* mm, unsigned long len) {
  return static_cast<unsigned long>(vm_mmap(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0));
}

// Until @ctx has an unread event (the sender is asleep in it). A bounded scheduling loop.
void until_event_sent(userfaultfd_ctx* ctx) {
  for (int i = 0; userfaultfd_nr_events(ctx) == 0; i++) {
    ASSERT_LT(i, 1000000) << "no event sent";
    cond_resched();
  }
}

TEST(UserfaultfdSimTest, WithoutEventFeaturesNothingIsSent) {
  // With no reader, a sent event would leave its sender asleep for good (a deadlock).
  for (uint64_t seed = 1; seed <= 4; seed++) {
    run_sim(seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      const unsigned long a = sim_map(mm, 4 * P);
      userfaultfd_ctx* ctx = userfaultfd(mm, 0);
      ASSERT_EQ(api(ctx, UFFD_FEATURE_THREAD_ID), 0);
      ASSERT_EQ(reg(ctx, a, 4 * P), 0);
      task_struct* t = m.spawn("process", [&] {
        EXPECT_EQ(zeropage(ctx, a, P), 0);
        EXPECT_EQ(do_madvise(mm, a, 2 * P, MADV_DONTNEED), 0);
        mm_struct* child = dup_mm(mm);
        ASSERT_NE(child, nullptr);
        mmap_read_lock(child);
        EXPECT_FALSE(userfaultfd_armed(vma_lookup(child, a)));  // dropped, as without EVENT_FORK
        mmap_read_unlock(child);
        mmput(child);
        EXPECT_EQ(vm_munmap(mm, a + 3 * P, P), 0);
      }, mm);
      task_join(t);
      uffd_msg msg;
      EXPECT_EQ(userfaultfd_read(ctx, &msg, true), -EAGAIN);
      EXPECT_EQ(userfaultfd_nr_events(ctx), 0);
      userfaultfd_close(ctx);
      mmput(mm);
    });
  }
}

TEST(UserfaultfdSimTest, RemoveEventOnDontneedDropsMmapLockAndWaitsToBeRead) {
  for (uint64_t seed = 1; seed <= 8; seed++) {
    uffd_msg msg{};
    int madv = -1, copy_during = 0, copy_after = -1, refill = -1;
    long stage = -1;
    run_sim(seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      const unsigned long a = sim_map(mm, 4 * P), src = sim_map(mm, P);
      userfaultfd_ctx* ctx = userfaultfd(mm, 0);
      ASSERT_EQ(api(ctx, UFFD_FEATURE_EVENT_REMOVE), 0);
      ASSERT_EQ(reg(ctx, a, 4 * P), 0);
      task_struct* t = m.spawn("madviser", [&] {
        ASSERT_EQ(copy(ctx, a, src, 2 * P), 0);
        madv = do_madvise(mm, a, 2 * P, MADV_DONTNEED);
      }, mm);
      task_struct* h = m.spawn("handler", [&] {
        until_event_sent(ctx);
        copy_during = copy(ctx, a + 2 * P, src, P);  // the range is changing: -EAGAIN
        // The sender dropped mmap_lock: a writer gets it while the event is unread.
        stage = vm_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
        if (stage > 0) vm_munmap(mm, static_cast<unsigned long>(stage), P);
        ASSERT_EQ(userfaultfd_read(ctx, &msg), static_cast<long>(sizeof(uffd_msg)));
      }, mm);
      task_join(t);
      task_join(h);
      task_struct* after = m.spawn("after", [&] {
        copy_after = copy(ctx, a + 2 * P, src, P);  // read and done: fills again
        refill = copy(ctx, a, src, P);              // zapped by the DONTNEED: not -EEXIST
      }, mm);
      task_join(after);
      EXPECT_EQ(msg.arg.remove.start, a);
      userfaultfd_close(ctx);
      mmput(mm);
    });
    EXPECT_EQ(madv, 0) << "seed " << seed;
    EXPECT_EQ(copy_during, -EAGAIN) << "seed " << seed;
    EXPECT_GT(stage, 0) << "mmap_lock held across the event, seed " << seed;
    EXPECT_EQ(msg.event, UFFD_EVENT_REMOVE);
    EXPECT_EQ(msg.arg.remove.end - msg.arg.remove.start, 2 * P);
    EXPECT_EQ(copy_after, 0);
    EXPECT_EQ(refill, 0);
  }
}

TEST(UserfaultfdSimTest, UnmapEventAfterMunmapAndMapFixed) {
  for (uint64_t seed = 1; seed <= 8; seed++) {
    uffd_msg first{}, second{};
    unsigned long a = 0, b = 0;
    int unmapped = -1;
    long fixed = -1;
    bool gone = false;
    run_sim(seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      a = sim_map(mm, 4 * P);
      b = sim_map(mm, 2 * P);
      userfaultfd_ctx* ctx = userfaultfd(mm, 0);
      ASSERT_EQ(api(ctx, UFFD_FEATURE_EVENT_UNMAP), 0);
      ASSERT_EQ(reg(ctx, a + P, 2 * P), 0);  // the middle of the mapping
      ASSERT_EQ(reg(ctx, b, 2 * P), 0);
      task_struct* t = m.spawn("unmapper", [&] {
        unmapped = vm_munmap(mm, a, 4 * P);  // one event: the munmap's whole range
        fixed = vm_mmap(mm, b, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, nullptr, 0);
      }, mm);
      task_struct* h = m.spawn("handler", [&] {
        ASSERT_EQ(userfaultfd_read(ctx, &first), static_cast<long>(sizeof(uffd_msg)));
        ASSERT_EQ(userfaultfd_read(ctx, &second), static_cast<long>(sizeof(uffd_msg)));
      }, mm);
      task_join(t);
      task_join(h);
      mmap_read_lock(mm);
      gone = vma_lookup(mm, a + P) == nullptr && !userfaultfd_armed(vma_lookup(mm, b));
      mmap_read_unlock(mm);
      uffd_msg none;
      EXPECT_EQ(userfaultfd_read(ctx, &none, true), -EAGAIN);  // nothing more
      userfaultfd_close(ctx);
      mmput(mm);
    });
    EXPECT_EQ(unmapped, 0) << "seed " << seed;
    EXPECT_EQ(fixed, static_cast<long>(b));
    EXPECT_TRUE(gone);
    EXPECT_EQ(first.event, UFFD_EVENT_UNMAP);
    EXPECT_EQ(first.arg.remove.start, a);
    EXPECT_EQ(first.arg.remove.end, a + 4 * P);
    EXPECT_EQ(second.event, UFFD_EVENT_UNMAP);
    EXPECT_EQ(second.arg.remove.start, b);
    EXPECT_EQ(second.arg.remove.end, b + 2 * P);
  }
}

// A fork of @mm by a "parent" task (which runs @before first) while a "handler" task
// reads the fork event (dup_mm() returns once it has): the child, the event, and the
// context the event handed over.
struct Forked {
  mm_struct* child = nullptr;
  uffd_msg msg{};
  userfaultfd_ctx* ctx = nullptr;
};
Forked fork_with_handler(Machine& m, mm_struct* mm, userfaultfd_ctx* ctx, const std::function<void()>& before) {
  Forked f;
  task_struct* parent = m.spawn("parent", [&] {
    before();
    f.child = dup_mm(mm);
  }, mm);
  task_struct* h = m.spawn("handler", [&] {
    ASSERT_EQ(userfaultfd_read(ctx, &f.msg), static_cast<long>(sizeof(uffd_msg)));
    f.ctx = userfaultfd_fork_ctx(&f.msg);
  }, mm);
  task_join(parent);
  task_join(h);
  return f;
}

TEST(UserfaultfdSimTest, ForkEventHandsTheChildContextThatResolvesTheChildsFaults) {
  constexpr uint64_t kParent = 0x1111222233334444ull, kChild = 0x5555666677778888ull;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    uffd_msg fork_msg{}, fault{};
    userfaultfd_ctx* parent_ctx = nullptr;
    userfaultfd_ctx* child_ctx = nullptr;
    uint64_t child_saw0 = 0, child_saw1 = 0;
    int child_pid = 0, child_read = -1, parent_refill = -1;
    bool child_armed = false;
    run_sim(seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      const unsigned long a = sim_map(mm, 2 * P), src = sim_map(mm, 2 * P);
      ASSERT_EQ(uaccess_write(mm, src, &kParent, sizeof(kParent)), 0);
      ASSERT_EQ(uaccess_write(mm, src + P, &kChild, sizeof(kChild)), 0);
      userfaultfd_ctx* ctx = parent_ctx = userfaultfd(mm, 0);
      ASSERT_EQ(api(ctx, UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_THREAD_ID), 0);
      ASSERT_EQ(reg(ctx, a, 2 * P), 0);
      const Forked f = fork_with_handler(m, mm, ctx, [&] {
        ASSERT_EQ(copy(ctx, a, src, P), 0);  // page 0 present, page 1 missing
      });
      mm_struct* child = f.child;
      fork_msg = f.msg;
      child_ctx = f.ctx;
      ASSERT_NE(child, nullptr);
      ASSERT_NE(child_ctx, nullptr);
      mmap_read_lock(child);
      vm_area_struct* cv = vma_lookup(child, a);
      child_armed = cv && userfaultfd_missing(cv) && cv->vm_userfaultfd_ctx == child_ctx;
      mmap_read_unlock(child);
      // The child touches its missing page: the fault goes to the child's context.
      task_struct* ct = m.spawn("child", [&] {
        child_read = uaccess_read(child, a + P, &child_saw1, sizeof(child_saw1));
        (void)uaccess_read(child, a, &child_saw0, sizeof(child_saw0));
      }, child);
      child_pid = ct->pid;
      task_struct* ch = m.spawn("child-handler", [&] {
        ASSERT_EQ(userfaultfd_read(child_ctx, &fault), static_cast<long>(sizeof(uffd_msg)));
        ASSERT_EQ(copy(child_ctx, fault.arg.pagefault.address & PAGE_MASK, src + P, P), 0);
      }, mm);
      task_join(ct);
      task_join(ch);
      task_struct* pt = m.spawn("parent-again", [&] {
        parent_refill = copy(ctx, a + P, src, P);  // still missing in the parent
      }, mm);
      task_join(pt);
      userfaultfd_close(child_ctx);  // the reader owns the new context (its "fd")
      mmput(child);
      userfaultfd_close(ctx);
      mmput(mm);
    });
    EXPECT_EQ(fork_msg.event, UFFD_EVENT_FORK) << "seed " << seed;
    EXPECT_NE(child_ctx, parent_ctx);
    EXPECT_TRUE(child_armed);
    EXPECT_EQ(fault.event, UFFD_EVENT_PAGEFAULT);
    EXPECT_EQ(static_cast<int>(fault.arg.pagefault.feat.ptid), child_pid);
    EXPECT_EQ(child_read, 0);
    EXPECT_EQ(child_saw1, kChild) << "resolved through the child's context";
    EXPECT_EQ(child_saw0, kParent) << "copied at fork";
    EXPECT_EQ(parent_refill, 0);
  }
}

// The pte mapping @addr in @mm (0 if none).
pte_t sim_pte_at(mm_struct* mm, unsigned long addr) {
  SpinGuard g(&mm->page_table_lock);
  pgtable_slot* s = pte_walk(mm, addr);
  return s ? ptep_get(s) : pte_t{0};
}

TEST(UserfaultfdSimTest, ForkEventKeepsTheWriteProtectBitInTheChild) {
  // With UFFD_FEATURE_EVENT_FORK the child's vma gets a context and stays wp-registered,
  // so the copied ptes keep their uffd-wp bit: the shared pte (copy_present_pte()) and
  // the maybe-pinned page copied at fork (copy_present_page()). Without the event the
  // bits go (ForkWithoutTheForkEventLeavesNoWriteProtectBitInTheChild).
  for (uint64_t seed = 1; seed <= 4; seed++) {
    bool parent0 = false, parent1 = false, child0 = false, child1 = false, child_wp = false;
    bool copied = false;
    run_sim(seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      const unsigned long a = sim_map(mm, 2 * P);
      userfaultfd_ctx* ctx = userfaultfd(mm, 0);
      ASSERT_EQ(api(ctx, UFFD_FEATURE_EVENT_FORK), 0);
      page* pinned[1] = {};
      const Forked f = fork_with_handler(m, mm, ctx, [&] {
        const uint64_t v = 7;
        ASSERT_EQ(uaccess_write(mm, a, &v, sizeof(v)), 0);
        ASSERT_EQ(uaccess_write(mm, a + P, &v, sizeof(v)), 0);
        ASSERT_EQ(reg(ctx, a, 2 * P, UFFDIO_REGISTER_MODE_WP), 0);
        ASSERT_EQ(wp(ctx, a, 2 * P, UFFDIO_WRITEPROTECT_MODE_WP), 0);
        ASSERT_EQ(gup_held(mm, a + P, FOLL_LONGTERM, pinned, true), 1);  // a + P is copied at fork
      });
      mm_struct* child = f.child;
      userfaultfd_ctx* child_ctx = f.ctx;
      ASSERT_EQ(f.msg.event, UFFD_EVENT_FORK);
      ASSERT_NE(child, nullptr);
      ASSERT_NE(child_ctx, nullptr);
      mmap_read_lock(child);
      vm_area_struct* cv = vma_lookup(child, a);
      child_wp = cv && userfaultfd_wp(cv) && cv->vm_userfaultfd_ctx == child_ctx;
      mmap_read_unlock(child);
      parent0 = pte_uffd_wp(sim_pte_at(mm, a));
      parent1 = pte_uffd_wp(sim_pte_at(mm, a + P));
      child0 = pte_uffd_wp(sim_pte_at(child, a));
      child1 = pte_uffd_wp(sim_pte_at(child, a + P));
      copied = pte_pfn(sim_pte_at(child, a + P)) != pte_pfn(sim_pte_at(mm, a + P));
      unpin_user_page(pinned[0]);
      userfaultfd_close(child_ctx);
      mmput(child);
      userfaultfd_close(ctx);
      mmput(mm);
    });
    EXPECT_TRUE(child_wp) << "seed " << seed;
    EXPECT_TRUE(parent0);
    EXPECT_TRUE(parent1);
    EXPECT_TRUE(child0) << "shared at fork";
    EXPECT_TRUE(copied) << "the pinned page is copied at fork";
    EXPECT_TRUE(child1) << "copied at fork (pinned)";
  }
}

TEST(UserfaultfdSimTest, UnreadForkEventEndsWithCloseAndTheChildLosesTheRegistration) {
  for (uint64_t seed = 1; seed <= 8; seed++) {
    bool child_armed = true;
    run_sim(seed, [&](Machine& m) {
      mm_struct* mm = mm_alloc(&m);
      const unsigned long a = sim_map(mm, 2 * P);
      userfaultfd_ctx* ctx = userfaultfd(mm, 0);
      ASSERT_EQ(api(ctx, UFFD_FEATURE_EVENT_FORK), 0);
      ASSERT_EQ(reg(ctx, a, 2 * P), 0);
      userfaultfd_get(ctx);  // the closer's reference
      mm_struct* child = nullptr;
      task_struct* parent = m.spawn("parent", [&] { child = dup_mm(mm); }, mm);
      task_struct* closer = m.spawn("closer", [&] {
        until_event_sent(ctx);
        userfaultfd_close(ctx);  // nobody will read the fork event
      }, mm);
      task_join(parent);
      task_join(closer);
      ASSERT_NE(child, nullptr);
      mmap_read_lock(child);
      vm_area_struct* cv = vma_lookup(child, a);
      child_armed = !cv || userfaultfd_armed(cv) || cv->vm_userfaultfd_ctx != nullptr;
      mmap_read_unlock(child);
      uffd_msg msg;
      EXPECT_EQ(userfaultfd_read(ctx, &msg), 0);  // closed
      userfaultfd_put(ctx);
      mmput(child);
      mmput(mm);
    });
    EXPECT_FALSE(child_armed) << "seed " << seed;
  }
}

}  // namespace
}  // namespace guplab::test
