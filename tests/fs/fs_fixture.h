// fs_fixture.h - what the filesystem tests start from: a booted machine (design, policy
// and RAM of the test's choosing), the test thread as its task with an mm and a
// descriptor table, a ramdisk with a fresh ext4 on it mounted at /mnt; and, after each
// test, the balance checks: unmounted cleanly, every page back, no file, dirty or
// writeback page counted, no oops, no unexpected WARN.
//
// crash_and_reboot() is the crash-consistency tool: it keeps the ramdisk's bytes, throws
// the machine away without writing anything back, boots a new one and puts those bytes
// on a new ramdisk, as a power cut and a reboot would.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/errno.h"
#include "base/rcu.h"
#include "base/task.h"
#include "block/genhd.h"
#include "block/ramdisk.h"
#include "fs/ext4/ext4.h"
#include "fs/file.h"
#include "fs/super.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/mmap.h"
#include "mm/page_alloc.h"
#include "mm/pagemap.h"
#include "mm/swap.h"
#include "mm/uaccess.h"

namespace guplab::fstest {

struct FsParams {
  PinDesign design = PinDesign::folio_pincount;
  WritebackPolicy policy = WritebackPolicy::skip;
  uint64_t ram = 64ull << 20;
  uint64_t disk = 32ull << 20;
  unsigned block_size = 4096;
  bool trace = true;
  bool refuse_longterm_file_pins = false;  // MachineConfig::refuse_longterm_file_pins
};

class FsTest : public ::testing::Test {
 protected:
  virtual FsParams params() { return FsParams{}; }

  void SetUp() override {
    p_ = params();
    boot();
    ASSERT_EQ(ext4_mkfs(m_.get(), disk_spec(), ext4_mkfs_options{p_.block_size, 0}), 0);
    mount();
  }

  void TearDown() override { shutdown(true); }

  std::string disk_spec() const { return "ram0,size=" + std::to_string(p_.disk >> 20) + "M"; }

  void boot() {
    MachineConfig c;
    c.ram_bytes = p_.ram;
    c.pin_design = p_.design;
    c.wb_policy = p_.policy;
    c.trace = p_.trace;
    c.refuse_longterm_file_pins = p_.refuse_longterm_file_pins;
    m_ = std::make_unique<Machine>(c);
    scope_ = std::make_unique<TaskScope>(m_->task_init("test"));
    mm_ = mm_alloc(m_.get());
    ASSERT_NE(mm_, nullptr);
    scope_->task()->mm = mm_;
    scope_->task()->files = files_alloc();
    boot_free_ = m_->boot_free_pages();
  }

  void mount(const std::string& data = "") {
    std::string err;
    ASSERT_EQ(m_->mounts().mount(disk_spec(), "/mnt", "ext4", data, &err), 0) << err;
    mounted_ = true;
  }

  int umount() {
    int err = m_->mounts().umount("/mnt");
    if (!err) mounted_ = false;
    return err;
  }

  /** shutdown() - release everything of the test's task and unmount; @check: the balance. */
  void shutdown(bool check) {
    if (!m_) return;
    task_struct* t = scope_->task();
    if (t->mm) {
      mmput(t->mm);
      t->mm = nullptr;
      mm_ = nullptr;
    }
    if (t->files) {
      put_files_struct(t->files);
      t->files = nullptr;
    }
    if (mounted_ && !m_->halted()) EXPECT_EQ(umount(), 0);
    rcu_barrier();
    if (check && !m_->halted()) {
      EXPECT_EQ(nr_free_pages(m_.get()), boot_free_) << "pages leaked";
      for (vm_stat_item i : {NR_FILE_PAGES, NR_FILE_DIRTY, NR_WRITEBACK, NR_ZONE_INACTIVE_FILE, NR_ZONE_ACTIVE_FILE})
        EXPECT_EQ(m_->vmstat().read(i), 0) << vm_stat_name(i);
      EXPECT_EQ(m_->vmstat().read(NR_FOLL_PIN_ACQUIRED), m_->vmstat().read(NR_FOLL_PIN_RELEASED)) << "pins leaked";
    }
    if (check && expect_oops_ == 0)
      for (const auto& o : m_->oopses()) ADD_FAILURE() << o.format();
    if (check && expected_warnings_ >= 0 && static_cast<int>(m_->nr_warnings()) != expected_warnings_)
      for (const auto& w : m_->warnings()) ADD_FAILURE() << w.format();
    scope_.reset();
    m_.reset();
  }

  /** crash_and_reboot() - power cut: keep the disk's bytes, lose everything else; boot again. */
  void crash_and_reboot() {
    auto* rd = static_cast<ramdisk*>(m_->block().lookup("ram0"));
    ASSERT_NE(rd, nullptr);
    const unsigned nsect = static_cast<unsigned>(p_.disk >> SECTOR_SHIFT);
    std::vector<char> image(p_.disk);
    ASSERT_EQ(rd->read_sectors(0, nsect, image.data()), 0);
    task_struct* t = scope_->task();
    if (t->files) put_files_struct(t->files);
    t->files = nullptr;
    if (t->mm) mmput(t->mm);
    t->mm = nullptr;
    mm_ = nullptr;
    scope_.reset();
    m_.reset();  // no umount: nothing more reaches the disk
    mounted_ = false;
    boot();
    block_device* bdev = blkdev_get_by_path(m_.get(), disk_spec());
    ASSERT_FALSE(IS_ERR(bdev));
    ASSERT_EQ(static_cast<ramdisk*>(bdev)->write_sectors(0, nsect, image.data()), 0);
    blkdev_put(bdev);
  }

  // ---- file helpers ------------------------------------------------------------------
  static std::vector<char> pattern(size_t n, unsigned seed) {
    std::vector<char> v(n);
    for (size_t i = 0; i < n; i++) v[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 12)) & 0xff);
    return v;
  }
  void write_file(const std::string& path, const std::vector<char>& data, bool sync = false) {
    file* f = filp_open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_FALSE(IS_ERR(f)) << errname(static_cast<int>(PTR_ERR(f)));
    loff_t pos = 0;
    ASSERT_EQ(kernel_write(f, data.data(), data.size(), &pos), static_cast<ssize_t>(data.size()));
    if (sync) ASSERT_EQ(vfs_fsync(f, 0), 0);
    filp_close(f);
  }
  std::vector<char> read_file(const std::string& path) {
    std::vector<char> out;
    file* f = filp_open(path.c_str(), O_RDONLY, 0);
    if (IS_ERR(f)) {
      ADD_FAILURE() << path << ": " << errname(static_cast<int>(PTR_ERR(f)));
      return out;
    }
    out.resize(static_cast<size_t>(vfs_size(f)));
    loff_t pos = 0;
    EXPECT_EQ(kernel_read(f, out.data(), out.size(), &pos), static_cast<ssize_t>(out.size()));
    filp_close(f);
    return out;
  }
  file* open(const std::string& path, int flags = O_RDWR | O_CREAT) {
    file* f = filp_open(path.c_str(), flags, 0644);
    EXPECT_FALSE(IS_ERR(f)) << path << ": " << (IS_ERR(f) ? errname(static_cast<int>(PTR_ERR(f))) : "");
    return IS_ERR(f) ? nullptr : f;
  }
  /** map_file() - mmap @len bytes of @f at offset 0 in the test's mm. */
  unsigned long map_file(file* f, unsigned long len, int prot = PROT_READ | PROT_WRITE, int flags = MAP_SHARED) {
    long a = file_mmap(mm_, f, 0, len, prot, flags, 0);
    EXPECT_GT(a, 0) << errname(static_cast<int>(a));
    return static_cast<unsigned long>(a);
  }
  super_block* sb() {
    std::string name;
    super_block* s = m_->mounts().grab_path("/mnt", &name);
    if (s) m_->mounts().drop_super(s);
    return s;
  }
  int64_t vs(vm_stat_item i) const { return m_->vmstat().read(i); }

  FsParams p_;
  std::unique_ptr<Machine> m_;
  std::unique_ptr<TaskScope> scope_;
  mm_struct* mm_ = nullptr;
  unsigned long boot_free_ = 0;
  bool mounted_ = false;
  int expect_oops_ = 0;
  int expected_warnings_ = 0;  // -1: do not check
};

}  // namespace guplab::fstest
