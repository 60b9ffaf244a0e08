// dax_test.cc - fs-DAX (fs/dax.h, fs/ext4/dax.cc) on the pmem region (block/pmem.h):
// mount rules, data that lives in the frames with no page cache, faults that map the
// frame behind the block, long-term pins refused, and truncate that waits for a
// short-term pin (dax_layout_busy_page()).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/completion.h"
#include "base/errno.h"
#include "base/rcu.h"
#include "base/task.h"
#include "block/genhd.h"
#include "block/pmem.h"
#include "block/ramdisk.h"
#include "fs/ext4/ext4.h"
#include "fs/file.h"
#include "fs/super.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/memremap.h"
#include "mm/mm_struct.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/uaccess.h"

namespace guplab {
namespace {

constexpr uint64_t kPmem = 4ull << 20;

class DaxTest : public ::testing::Test {
 protected:
  void boot(PinDesign d = PinDesign::folio_pincount, WritebackPolicy p = WritebackPolicy::skip,
            uint64_t pmem = kPmem) {
    MachineConfig c;
    c.ram_bytes = 32ull << 20;
    c.pin_design = d;
    c.wb_policy = p;
    c.pmem_bytes = pmem;
    c.trace = true;
    m_ = std::make_unique<Machine>(c);
    scope_ = std::make_unique<TaskScope>(m_->task_init("test"));
    mm_ = mm_alloc(m_.get());
    scope_->task()->mm = mm_;
    scope_->task()->files = files_alloc();
    boot_free_ = m_->boot_free_pages();
  }
  void mkfs_and_mount(const std::string& data = "dax", unsigned bs = 4096) {
    ASSERT_EQ(ext4_mkfs(m_.get(), "pmem0", ext4_mkfs_options{bs, 0}), 0);
    std::string err;
    ASSERT_EQ(m_->mounts().mount("pmem0", "/mnt", "ext4", data, &err), 0) << err;
    mounted_ = true;
  }
  void TearDown() override {
    if (!m_) return;
    task_struct* t = scope_->task();
    if (t->mm) mmput(t->mm);
    t->mm = nullptr;
    if (t->files) put_files_struct(t->files);
    t->files = nullptr;
    if (mounted_) EXPECT_EQ(m_->mounts().umount("/mnt"), 0);
    rcu_barrier();
    EXPECT_EQ(nr_free_pages(m_.get()), boot_free_) << "pages leaked";
    EXPECT_EQ(m_->vmstat().read(NR_FILE_PAGES), 0) << "a DAX file used the page cache";
    EXPECT_EQ(m_->vmstat().read(NR_FOLL_PIN_ACQUIRED), m_->vmstat().read(NR_FOLL_PIN_RELEASED));
    for (const auto& o : m_->oopses()) ADD_FAILURE() << o.format();
    for (const auto& w : m_->warnings()) ADD_FAILURE() << w.format();
    scope_.reset();
    m_.reset();
  }

  file* create(const char* path, const std::vector<char>& data) {
    file* f = filp_open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    EXPECT_FALSE(IS_ERR(f));
    loff_t pos = 0;
    EXPECT_EQ(kernel_write(f, data.data(), data.size(), &pos), static_cast<ssize_t>(data.size()));
    return f;
  }
  static std::vector<char> pattern(size_t n, unsigned seed) {
    std::vector<char> v(n);
    for (size_t i = 0; i < n; i++) v[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 12)) & 0xff);
    return v;
  }
  /** The pmem frame that holds file page @index of @f (through FIBMAP). */
  page* frame_of(file* f, sector_t index) {
    sector_t b = index;
    EXPECT_EQ(bmap(file_inode(f), &b), 0);
    EXPECT_NE(b, 0u) << "a hole";
    return m_->mem().pfn_to_page(m_->pmem()->start_pfn + b);
  }
  super_block* sb() {
    std::string name;
    super_block* s = m_->mounts().grab_path("/mnt", &name);
    if (s) m_->mounts().drop_super(s);
    return s;
  }
  long pin(unsigned long addr, unsigned long n, foll_flags flags, page** pages) {
    mmap_read_lock(mm_);
    long r = pin_user_pages(addr, n, flags, pages);
    mmap_read_unlock(mm_);
    return r;
  }

  std::unique_ptr<Machine> m_;
  std::unique_ptr<TaskScope> scope_;
  mm_struct* mm_ = nullptr;
  unsigned long boot_free_ = 0;
  bool mounted_ = false;
};

TEST_F(DaxTest, PmemRegionIsZoneDeviceFramesBehindTheBlockDevice) {
  boot();
  dax_device* dax = m_->pmem();
  ASSERT_NE(dax, nullptr);
  EXPECT_EQ(dax->nr_pages, kPmem >> PAGE_SHIFT);
  for (unsigned long pfn = dax->start_pfn; pfn < dax->start_pfn + dax->nr_pages; pfn++) {
    page* p = m_->mem().pfn_to_page(pfn);
    ASSERT_TRUE(is_fsdax_page(p)) << pfn;
    ASSERT_TRUE(dax_page_is_idle(p)) << pfn;
  }
  EXPECT_FALSE(is_zone_device_page(m_->mem().pfn_to_page(dax->start_pfn - 1)));
  // A sector written through the block device is the frame's bytes.
  std::string err;
  block_device* bdev = blkdev_get_by_path(m_.get(), "pmem0", &err);
  ASSERT_FALSE(IS_ERR(bdev)) << err;
  EXPECT_EQ(fs_dax_get_by_bdev(bdev), dax);
  EXPECT_EQ(bdev_nr_sectors(bdev), kPmem >> SECTOR_SHIFT);
  std::vector<char> buf = pattern(SECTOR_SIZE, 3);
  ASSERT_EQ(static_cast<ramdisk*>(bdev)->write_sectors(8 * 5, 1, buf.data()), 0);  // page 5
  void* kaddr = nullptr;
  ASSERT_GT(dax_direct_access(dax, 5, &kaddr, nullptr), 0);
  EXPECT_EQ(std::memcmp(kaddr, buf.data(), SECTOR_SIZE), 0);
  EXPECT_EQ(dax_direct_access(dax, dax->nr_pages, nullptr, nullptr), -ERANGE);
  blkdev_put(bdev);
  EXPECT_EQ(del_gendisk(m_.get(), "pmem0"), 0);
}

TEST(DaxBoot, PmemSizeMustBeWholeFreeBlocks) {
  MachineConfig c;
  c.ram_bytes = 8ull << 20;
  c.pmem_bytes = 3ull << 20;
  EXPECT_THROW(Machine m(c), std::invalid_argument);
  c.pmem_bytes = 64ull << 20;
  EXPECT_THROW(Machine m(c), std::invalid_argument);
}

TEST(DaxBoot, NoPmemRegionNoDevice) {
  MachineConfig c;
  c.ram_bytes = 8ull << 20;
  Machine m(c);
  TaskScope scope(m.task_init("test"));
  std::string err;
  block_device* bdev = blkdev_get_by_path(&m, "pmem0", &err);
  ASSERT_TRUE(IS_ERR(bdev));
  EXPECT_EQ(PTR_ERR(bdev), -ENODEV);
  EXPECT_NE(err.find("no pmem region"), std::string::npos) << err;
}

TEST_F(DaxTest, MountDaxNeedsADaxDeviceAndPageSizedBlocks) {
  boot();
  ASSERT_EQ(ext4_mkfs(m_.get(), "ram0,size=8M", ext4_mkfs_options{4096, 0}), 0);
  EXPECT_EQ(m_->mounts().mount("ram0,size=8M", "/mnt", "ext4", "dax"), -EINVAL);
  ASSERT_EQ(ext4_mkfs(m_.get(), "pmem0", ext4_mkfs_options{1024, 0}), 0);
  EXPECT_EQ(m_->mounts().mount("pmem0", "/mnt", "ext4", "dax"), -EINVAL);
  EXPECT_EQ(m_->mounts().mount("pmem0", "/mnt", "ext4", "dax=sometimes"), -EINVAL);
  mkfs_and_mount("dax=always");
  file* f = create("/mnt/a", pattern(100, 1));
  EXPECT_TRUE(IS_DAX(file_inode(f)));
  filp_close(f);
}

TEST_F(DaxTest, WithoutDaxOptionFilesUseThePageCache) {
  boot();
  mkfs_and_mount("dax=never");
  file* f = create("/mnt/a", pattern(PAGE_SIZE, 1));
  EXPECT_FALSE(IS_DAX(file_inode(f)));
  EXPECT_EQ(file_inode(f)->i_mapping->nrpages.load(), 1u);
  filp_close(f);
}

TEST_F(DaxTest, ReadWriteGoToTheFramesWithNoPageCache) {
  boot();
  mkfs_and_mount();
  const std::vector<char> data = pattern(3 * PAGE_SIZE + 100, 7);
  file* f = create("/mnt/a", data);
  EXPECT_EQ(file_inode(f)->i_mapping->nrpages.load(), 0u);
  EXPECT_EQ(vfs_size(f), static_cast<loff_t>(data.size()));
  for (sector_t i = 0; i < 3; i++)
    EXPECT_EQ(std::memcmp(page_address(frame_of(f, i)), data.data() + i * PAGE_SIZE, PAGE_SIZE), 0) << i;
  std::vector<char> back(data.size());
  loff_t pos = 0;
  ASSERT_EQ(kernel_read(f, back.data(), back.size() + 50, &pos), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(back, data);
  ASSERT_EQ(vfs_fsync(f, 0), 0);
  filp_close(f);
}

TEST_F(DaxTest, FaultMapsTheFrameOfTheBlock) {
  boot();
  mkfs_and_mount();
  file* f = create("/mnt/a", pattern(2 * PAGE_SIZE, 2));
  const unsigned long addr = static_cast<unsigned long>(file_mmap(mm_, f, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
  ASSERT_GT(static_cast<long>(addr), 0);
  const char msg[] = "stored through the DAX mapping";
  ASSERT_EQ(uaccess_write(mm_, addr + PAGE_SIZE + 10, msg, sizeof(msg)), 0);
  page* fr = frame_of(f, 1);
  EXPECT_EQ(std::memcmp(static_cast<char*>(page_address(fr)) + 10, msg, sizeof(msg)), 0);
  EXPECT_EQ(page_ref_count(fr), 1) << "one pte maps it";
  EXPECT_EQ(page_mapping(fr), file_inode(f)->i_mapping);
  EXPECT_EQ(fr->index, 1u);
  // GUP hands out that same frame.
  page* pages[2] = {};
  ASSERT_EQ(pin(addr, 2, FOLL_WRITE, pages), 2);
  EXPECT_EQ(pages[1], fr);
  EXPECT_TRUE(page_maybe_dma_pinned(fr));
  unpin_user_pages(pages, 2);
  ASSERT_EQ(vm_munmap(mm_, addr, 2 * PAGE_SIZE), 0);
  EXPECT_TRUE(dax_page_is_idle(fr));
  // read() sees the store (the frame is the file).
  char back[sizeof(msg)];
  loff_t pos = PAGE_SIZE + 10;
  ASSERT_EQ(kernel_read(f, back, sizeof(back), &pos), static_cast<ssize_t>(sizeof(back)));
  EXPECT_EQ(std::memcmp(back, msg, sizeof(msg)), 0);
  filp_close(f);
}

TEST_F(DaxTest, PrivateMappingCopiesOnWrite) {
  boot();
  mkfs_and_mount();
  const std::vector<char> data = pattern(PAGE_SIZE, 4);
  file* f = create("/mnt/a", data);
  const unsigned long addr = static_cast<unsigned long>(file_mmap(mm_, f, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0));
  ASSERT_GT(static_cast<long>(addr), 0);
  ASSERT_EQ(uaccess_write(mm_, addr, "private", 7), 0);
  EXPECT_EQ(std::memcmp(page_address(frame_of(f, 0)), data.data(), PAGE_SIZE), 0) << "the file was written";
  char back[7];
  ASSERT_EQ(uaccess_read(mm_, addr, back, 7), 0);
  EXPECT_EQ(std::memcmp(back, "private", 7), 0);
  ASSERT_EQ(vm_munmap(mm_, addr, PAGE_SIZE), 0);
  filp_close(f);
}

TEST_F(DaxTest, LongTermPinOfFsDaxIsRefused) {
  boot();
  mkfs_and_mount();
  file* f = create("/mnt/a", pattern(2 * PAGE_SIZE, 5));
  const unsigned long addr = static_cast<unsigned long>(file_mmap(mm_, f, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
  page* pages[2] = {};
  EXPECT_EQ(pin(addr, 2, FOLL_WRITE | FOLL_LONGTERM, pages), -EOPNOTSUPP);
  // Faulted in, so GUP-fast sees the ptes: it must leave them to the slow path, which refuses.
  ASSERT_EQ(uaccess_write(mm_, addr, "x", 1), 0);
  ASSERT_EQ(uaccess_write(mm_, addr + PAGE_SIZE, "x", 1), 0);
  EXPECT_EQ(pin_user_pages_fast(addr, 2, FOLL_WRITE | FOLL_LONGTERM, pages), -EOPNOTSUPP);
  EXPECT_EQ(m_->vmstat().read(NR_FOLL_PIN_ACQUIRED), 0);
  // A short-term pin is fine.
  ASSERT_EQ(pin_user_pages_fast(addr, 2, FOLL_WRITE, pages), 2);
  unpin_user_pages(pages, 2);
  ASSERT_EQ(vm_munmap(mm_, addr, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

TEST_F(DaxTest, TruncateFreesTheBlocksAndUnbindsTheFrames) {
  boot();
  mkfs_and_mount();
  file* f = create("/mnt/a", pattern(4 * PAGE_SIZE, 6));
  const uint32_t free4 = ext4_free_blocks_count(sb());
  page* fr3 = frame_of(f, 3);
  page* fr1 = frame_of(f, 1);
  const unsigned long addr = static_cast<unsigned long>(file_mmap(mm_, f, 0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
  char c;
  for (unsigned i = 0; i < 4; i++) ASSERT_EQ(uaccess_read(mm_, addr + i * PAGE_SIZE, &c, 1), 0);
  EXPECT_EQ(page_mapping(fr3), file_inode(f)->i_mapping);
  ASSERT_EQ(vfs_truncate(f, PAGE_SIZE + 10), 0);
  EXPECT_EQ(page_mapping(fr3), nullptr) << "a freed block's frame stays bound";
  EXPECT_TRUE(dax_page_is_idle(fr3));
  EXPECT_EQ(ext4_free_blocks_count(sb()), free4 + 2);
  // What lay past the new EOF in the last block reads back as zeroes.
  char tail[PAGE_SIZE - 10];
  EXPECT_EQ(std::memcmp(static_cast<char*>(page_address(fr1)) + 10, std::vector<char>(sizeof(tail), 0).data(), sizeof(tail)), 0);
  // The mapping past EOF faults SIGBUS now (-EFAULT to the copy).
  EXPECT_NE(uaccess_read(mm_, addr + 3 * PAGE_SIZE, &c, 1), 0);
  ASSERT_EQ(vm_munmap(mm_, addr, 4 * PAGE_SIZE), 0);
  filp_close(f);
  ASSERT_EQ(vfs_unlink("/mnt/a"), 0);
  EXPECT_EQ(ext4_free_blocks_count(sb()), free4 + 4);
}

// Direct I/O's pin is short-term: truncate must not free the block while it is held
// (dax_layout_busy_page()), and goes on once the pin is released.
class DaxTruncateWaits : public DaxTest, public ::testing::WithParamInterface<PinDesign> {};

TEST_P(DaxTruncateWaits, ForAShortTermPin) {
  boot(GetParam());
  mkfs_and_mount();
  file* f = create("/mnt/a", pattern(2 * PAGE_SIZE, 8));
  const uint32_t free2 = ext4_free_blocks_count(sb());
  const unsigned long addr = static_cast<unsigned long>(file_mmap(mm_, f, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
  page* pages[2] = {};
  ASSERT_EQ(pin(addr, 2, FOLL_WRITE, pages), 2);
  completion waiting;
  init_completion(&waiting);
  m_->sync_points().set_callback("dax:break_layouts:wait", [&waiting] { complete(&waiting); });
  m_->sync_points().enable();
  std::atomic<bool> truncated{false};
  task_struct* t = m_->spawn("truncate", [f, &truncated] {
    EXPECT_EQ(vfs_truncate(f, 0), 0);
    truncated = true;
  });
  wait_for_completion(&waiting);  // the truncate found the pinned page and sleeps on it
  EXPECT_FALSE(truncated.load());
  EXPECT_EQ(ext4_free_blocks_count(sb()), free2) << "blocks freed under a pin";
  unpin_user_pages(pages, 2);
  task_join(t);
  EXPECT_TRUE(truncated.load());
  EXPECT_EQ(ext4_free_blocks_count(sb()), free2 + 2);
  m_->sync_points().disable();
  ASSERT_EQ(vm_munmap(mm_, addr, 2 * PAGE_SIZE), 0);
  filp_close(f);
}

INSTANTIATE_TEST_SUITE_P(Designs, DaxTruncateWaits, ::testing::ValuesIn(kAllPinDesigns),
                         [](const ::testing::TestParamInfo<PinDesign>& i) { return std::string(to_string(i.param)); });

}  // namespace
}  // namespace guplab
