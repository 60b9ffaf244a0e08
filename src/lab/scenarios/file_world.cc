// file_world.cc - ext4 on a ramdisk, a stamped file, its shared mapping, and the
// oracles' view of the disk.
#include "lab/scenarios/file_world.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>


#include "base/errno.h"
#include "block/genhd.h"
#include "fs/ext4/ext4.h"
#include "fs/file.h"
#include "fs/super.h"
#include "lab/scenario.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/mmap.h"
#include "mm/uaccess.h"
#include "mm/vmscan.h"
#include "base/bug.h"

namespace guplab {

namespace {
constexpr const char* kDir = "/mnt";
}  // namespace

int FileWorld::setup(ScenarioContext& ctx, StampClock* clock, const file_world_options& o) {
  const int err = setup_world(ctx, clock, o);
  if (err && m_) {
    // A failed setup (an injected allocation failure, an I/O error) leaves nothing
    // running: under sim the disk's completion task would outlive the run otherwise.
    if (close() == 0 && m_->block().lookup(disk_)) del_gendisk(m_, disk_);
    bdev_ = nullptr;
  }
  return err;
}

int FileWorld::setup_world(ScenarioContext& ctx, StampClock* clock, const file_world_options& o) {
  GUPLAB_CHECK(!m_ && "setup() once");
  GUPLAB_CHECK(o.npages > 0);
  m_ = &ctx.machine();
  clock_ = clock;
  npages_ = o.npages;
  dir_ = kDir;
  path_ = fmt::format("{}/{}", kDir, o.name);
  spin_lock_init(&lock_, "file_world");
  {
    SpinGuard g(&lock_);
    task_last_.assign(npages_, dma_stamp{});
    discarded_.assign(npages_, 0);
    sectors_.assign(npages_, 0);
  }
  if (o.dax) disk_ = "pmem0";
  std::string spec = o.dax ? disk_ : fmt::format("{},size={}K", disk_, o.disk_bytes >> 10);
  if (o.disk_latency_ns && !o.dax) spec += fmt::format(",latency={}ns", o.disk_latency_ns);
  if (int err = ext4_mkfs(m_, spec)) return err;
  std::string why;
  if (int err = m_->mounts().mount(disk_, kDir, "ext4", o.dax ? "dax" : "", &why)) return err;
  mounted_ = true;
  bdev_ = m_->block().lookup(disk_);
  file* f = filp_open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (IS_ERR(f)) return static_cast<int>(PTR_ERR(f));
  filp_ = f;
  for (unsigned long i = 0; i < npages_; i++)
    if (int err = task_write(i)) return err;
  if (int err = fsync()) return err;
  mm_ = mm_alloc(m_);
  if (!mm_) return -ENOMEM;
  if (o.map) {
    const long a = file_mmap(mm_, filp_, 0, npages_ << PAGE_SHIFT, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    if (a < 0) return static_cast<int>(a);
    addr_ = static_cast<unsigned long>(a);
  }
  ctx.note(fmt::format("setup: {} of {} pages on {} synced; mapped shared at {:#x}", path_, npages_, disk_, addr_));
  return 0;
}

int FileWorld::close() {
  if (mm_) {
    mmput(mm_);
    mm_ = nullptr;
    addr_ = 0;
  }
  if (filp_) {
    filp_close(filp_);
    filp_ = nullptr;
  }
  int ret = 0;
  if (mounted_) {
    ret = m_->mounts().umount(dir_);
    if (ret == 0) mounted_ = false;
  }
  // The ramdisk goes too: its completion task must end inside the run (under sim a run
  // lasts until every task has ended). The disk's bytes are read before this.
  if (ret == 0 && bdev_) {
    ret = del_gendisk(m_, disk_);
    bdev_ = nullptr;
  }
  return ret;
}

FileWorld::~FileWorld() {
  // A run that did not reach close() ended early: an oops, or a deadlock (the runner
  // halts the machine then). No lock may be taken any more; the page cache and the
  // inodes go with the mount table's crash teardown, the process and the file here.
  if (mm_) mm_abandon(mm_);
  if (filp_) file_abandon(filp_);
}

inode* FileWorld::ino() const { return filp_ ? file_inode(filp_) : nullptr; }
address_space* FileWorld::mapping() const { return filp_ ? filp_->f_mapping : nullptr; }

int FileWorld::task_store(unsigned long i) {
  GUPLAB_CHECK(i < npages_ && addr_);
  PageImage img;  // on this task's stack: under sim every task shares one thread
  const dma_stamp s{0, static_cast<uint32_t>(i), clock_->next()};
  stamp_fill_page(img.data(), s);
  {
    SpinGuard g(&lock_);
    task_last_[i] = s;
  }
  return uaccess_write(mm_, addr_ + (i << PAGE_SHIFT), img.data(), PAGE_SIZE);
}

int FileWorld::task_write(unsigned long i) {
  GUPLAB_CHECK(i < npages_ && filp_);
  PageImage img;
  const dma_stamp s{0, static_cast<uint32_t>(i), clock_->next()};
  stamp_fill_page(img.data(), s);
  {
    SpinGuard g(&lock_);
    task_last_[i] = s;
  }
  loff_t pos = static_cast<loff_t>(i << PAGE_SHIFT);
  const ssize_t n = kernel_write(filp_, img.data(), PAGE_SIZE, &pos);
  if (n < 0) return static_cast<int>(n);
  return n == static_cast<ssize_t>(PAGE_SIZE) ? 0 : -EIO;
}

dma_stamp FileWorld::task_last(unsigned long i) const {
  SpinGuard g(&lock_);
  return i < task_last_.size() ? task_last_[i] : dma_stamp{};
}

uint64_t FileWorld::task_discard(unsigned long i) {
  const uint64_t g = clock_->next();
  SpinGuard guard(&lock_);
  if (i < discarded_.size()) discarded_[i] = g;
  return g;
}

uint64_t FileWorld::task_discarded(unsigned long i) const {
  SpinGuard g(&lock_);
  return i < discarded_.size() ? discarded_[i] : 0;
}

long FileWorld::writeback_pass(writeback_sync_modes mode) {
  writeback_control wbc;
  wbc.sync_mode = mode;
  wbc.reason = wb_reason::background;
  address_space* mapping = filp_->f_mapping;
  if (int err = filemap_fdatawrite_wbc(mapping, &wbc)) return err;
  if (int err = filemap_fdatawait_range(mapping, 0, LLONG_MAX)) return err;
  return wbc.pages_written;
}

int FileWorld::sync() {
  ksys_sync();
  return filemap_check_errors(filp_->f_mapping);
}

int FileWorld::fsync() { return vfs_fsync(filp_, 0); }

unsigned long FileWorld::reclaim(unsigned passes) {
  unsigned long freed = 0;
  // As kswapd does: every zone (a movable allocation may use them all).
  for (unsigned p = 0; p < passes; p++) freed += try_to_free_pages(m_, 1ul << 20, gfp_t::GFP_HIGHUSER_MOVABLE);
  return freed;
}

sector_t FileWorld::disk_sector(unsigned long i) const {
  {
    SpinGuard g(&lock_);
    if (i < sectors_.size() && sectors_[i]) return sectors_[i];
  }
  inode* in = ino();
  if (!in) return 0;
  const unsigned bbits = in->i_sb->s_blocksize_bits;
  sector_t block = static_cast<sector_t>(i) << (PAGE_SHIFT - bbits);
  if (bmap(in, &block) || !block) return 0;
  const sector_t sector = block << (bbits - SECTOR_SHIFT);
  SpinGuard g(&lock_);
  if (i < sectors_.size()) sectors_[i] = sector;
  return sector;
}

int FileWorld::disk_page(unsigned long i, PageImage* out) const {
  const sector_t s = disk_sector(i);
  if (!s) return -ENODATA;
  return read_disk_page(bdev_, s, out);
}

std::string FileWorld::page_name(unsigned long i) const {
  return fmt::format("page {} of {} (sector {})", i, path_, disk_sector(i));
}

}  // namespace guplab
