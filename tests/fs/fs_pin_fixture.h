// fs_pin_fixture.h - FsTest parameterized over (pin design, writeback policy), and what
// the pinned-page tests of mm/ and fs/ share: a file whose pages are mapped MAP_SHARED,
// dirtied and pinned the way a driver pins them (pin_user_pages_fast(FOLL_WRITE)); a
// "device" write into a pinned page (a store straight into the frame, no pte, no dirty
// bit: what DMA does); what the disk holds for a page of a file (its block, read from
// the ramdisk behind the page cache's back); the ptes that map a page.
//
// Threading: one fixture per test thread; helpers run on the test's task.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "fs/buffer_head.h"
#include "fs/ext4/ext4.h"
#include "mm/filemap.h"
#include "mm/internal.h"
#include "mm/pagemap.h"
#include "mm/pgalloc.h"
#include "tests/fs/fs_fixture.h"

namespace guplab::fstest {

using DesignPolicy = std::tuple<PinDesign, WritebackPolicy>;

/** Every (design, policy) pair. */
inline std::vector<DesignPolicy> all_design_policies() {
  std::vector<DesignPolicy> v;
  for (PinDesign d : kAllPinDesigns)
    for (WritebackPolicy p : kAllWritebackPolicies) v.emplace_back(d, p);
  return v;
}
/** One policy under every design. */
inline std::vector<DesignPolicy> designs_with(WritebackPolicy p) {
  std::vector<DesignPolicy> v;
  for (PinDesign d : kAllPinDesigns) v.emplace_back(d, p);
  return v;
}
/** Every design with the policy that does not matter (skip). */
inline std::vector<DesignPolicy> all_designs() { return designs_with(WritebackPolicy::skip); }

inline std::string design_policy_name(const ::testing::TestParamInfo<DesignPolicy>& info) {
  return std::string(to_string(std::get<0>(info.param))) + "_" + to_string(std::get<1>(info.param));
}

/** Pinned - pages of a file mapped at addr and pinned (FOLL_WRITE) through that mapping. */
struct Pinned {
  file* f = nullptr;
  unsigned long addr = 0;
  unsigned long len = 0;
  std::vector<page*> pages;
};

class FsPinTest : public FsTest, public ::testing::WithParamInterface<DesignPolicy> {
 protected:
  FsParams params() override {
    FsParams p = base_params();
    p.design = std::get<0>(GetParam());
    p.policy = std::get<1>(GetParam());
    return p;
  }
  /** base_params() - what a derived suite changes besides design and policy (RAM, blocks). */
  virtual FsParams base_params() { return FsParams{}; }

  PinDesign design() const { return std::get<0>(GetParam()); }
  WritebackPolicy policy() const { return std::get<1>(GetParam()); }
  /** effective() - the policy as it acts (ignore under `get`). */
  WritebackPolicy effective() const {
    return design() == PinDesign::get ? WritebackPolicy::ignore : policy();
  }
  bool tracked() const { return design() != PinDesign::get; }

  /**
   * make_file() - @path with @npages pages of pattern(@seed), written and fsync'ed
   * (blocks allocated, page cache clean). Returns it open O_RDWR.
   */
  file* make_file(const std::string& path, unsigned npages, unsigned seed) {
    write_file(path, pattern(npages * PAGE_SIZE, seed), true);
    return open(path);
  }

  /**
   * pin_mapped() - mmap @f MAP_SHARED (@npages pages) and pin them all with @flags
   * (FOLL_WRITE: faulted in writable through page_mkwrite, so dirty; FOLL_NONE: a read
   * pin of clean pages mapped read-only).
   */
  Pinned pin_mapped(file* f, unsigned npages, foll_flags flags = FOLL_WRITE) {
    Pinned pn;
    pn.f = f;
    pn.len = npages * PAGE_SIZE;
    pn.addr = map_file(f, pn.len);
    pn.pages.assign(npages, nullptr);
    const int got = pin_user_pages_fast(pn.addr, static_cast<int>(npages), flags, pn.pages.data());
    EXPECT_EQ(got, static_cast<int>(npages));
    return pn;
  }
  /** unpin() - release every pin of @pn (no dirtying) and unmap it. */
  void unpin(Pinned* pn, bool make_dirty = false) {
    if (!pn->pages.empty() && pn->pages[0]) unpin_user_pages_dirty_lock(pn->pages.data(), pn->pages.size(), make_dirty);
    pn->pages.clear();
    unmap(pn);
  }
  void unmap(Pinned* pn) {
    if (pn->addr) EXPECT_EQ(vm_munmap(mm_, pn->addr, pn->len), 0);
    pn->addr = 0;
  }

  /**
   * dev_write() - the device stores pattern(@seed) into the whole frame of @p, in relaxed
   * 8-byte words as the model's devices do (block/ramdisk.cc): the defined form of DMA
   * racing a CPU or another device.
   */
  static void dev_write(page* p, unsigned seed) {
    const auto d = pattern(PAGE_SIZE, seed);
    auto* dst = static_cast<uint64_t*>(page_address(p));
    for (size_t i = 0; i < PAGE_SIZE / 8; i++) {
      uint64_t w;
      std::memcpy(&w, d.data() + i * 8, 8);
      __atomic_store_n(&dst[i], w, __ATOMIC_RELAXED);
    }
  }
  /** page_bytes() - what the frame of @p holds now (relaxed word loads). */
  static std::vector<char> page_bytes(page* p) {
    std::vector<char> v(PAGE_SIZE);
    const auto* src = static_cast<const uint64_t*>(page_address(p));
    for (size_t i = 0; i < PAGE_SIZE / 8; i++) {
      const uint64_t w = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
      std::memcpy(v.data() + i * 8, &w, 8);
    }
    return v;
  }

  /** block_of() - the disk block of file block @idx of @f (4 KiB blocks: page @idx), 0 for a hole. */
  uint32_t block_of(file* f, pgoff_t idx) NO_THREAD_SAFETY_ANALYSIS {
    inode* ino = file_inode(f);
    ext4_sb_info* sbi = EXT4_SB(ino->i_sb);
    uint32_t blk = 0;
    bool is_new = false;
    down_write(&sbi->s_meta_sem);
    const int err = ext4_map_block(sbi, EXT4_I(ino), static_cast<uint32_t>(idx), false, &blk, &is_new);
    up_write(&sbi->s_meta_sem);
    EXPECT_EQ(err, 0);
    return blk;
  }
  ramdisk* rd() { return static_cast<ramdisk*>(m_->block().lookup("ram0")); }
  /** disk_page() - the bytes of page @idx of @f on the disk (empty if a hole). */
  std::vector<char> disk_page(file* f, pgoff_t idx) {
    const uint32_t blk = block_of(f, idx);
    if (!blk) return {};
    std::vector<char> v(PAGE_SIZE);
    EXPECT_EQ(rd()->read_sectors(static_cast<sector_t>(blk) * (PAGE_SIZE / SECTOR_SIZE),
                                 PAGE_SIZE / SECTOR_SIZE, v.data()),
              0);
    return v;
  }

  /** pte_at() - the pte mapping @addr in the test's mm (0 if none). */
  pte_t pte_at(unsigned long addr) {
    SpinGuard g(&mm_->page_table_lock);
    pgtable_slot* s = pte_walk(mm_, addr);
    return s ? ptep_get(s) : pte_t{0};
  }

  /** cached() - the page-cache page @idx of @f with a reference, or nullptr. */
  static folio* cached(file* f, pgoff_t idx) { return filemap_get_folio(f->f_mapping, idx); }

  /**
   * writeback() - one do_writepages() pass over @f as @mode says, then a wait for the
   * writes it started (so the disk can be looked at); the wbc it ended with.
   */
  writeback_control writeback(file* f, writeback_sync_modes mode) {
    writeback_control wbc;
    wbc.sync_mode = mode;
    EXPECT_EQ(do_writepages(f->f_mapping, &wbc), 0);
    EXPECT_EQ(filemap_fdatawait_range(f->f_mapping, 0, LLONG_MAX), 0);
    return wbc;
  }

  /** sync_points() - the machine's sync points, enabled, cleared when the test ends. */
  SyncPoints& sync_points() {
    SyncPoints& sp = m_->sync_points();
    sp.enable();
    return sp;
  }
  void TearDown() override {
    if (m_) {
      m_->sync_points().disable();
      m_->sync_points().clear_all();
    }
    FsTest::TearDown();
  }
};

}  // namespace guplab::fstest
