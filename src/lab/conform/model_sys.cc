// model_sys.cc - ConformSys on a Machine (see model_sys.h).
#include "lab/conform/model_sys.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/userfaultfd.h>
#include <sys/mman.h>

#include <cstring>
#include <deque>
#include <type_traits>
#include <vector>

#include "base/errno.h"
#include "base/rcu.h"
#include "base/task.h"
#include "block/blkdev.h"
#include "block/ramdisk.h"
#include "fs/direct-io.h"
#include "fs/ext4/ext4.h"
#include "fs/file.h"
#include "fs/fs.h"
#include "fs/super.h"
#include "machine/machine.h"
#include "machine/vmstat.h"
#include "mm/fork.h"
#include "mm/gup.h"
#include "mm/hugetlb.h"
#include "mm/madvise.h"
#include "mm/mmap.h"
#include "mm/mprotect.h"
#include "mm/page_alloc.h"
#include "mm/pgalloc.h"
#include "mm/swap.h"
#include "mm/uaccess.h"
#include "mm/userfaultfd.h"

namespace guplab::conform {

std::string side_name(const ModelSide& side) {
  std::string s = to_string(side.design);
  if (side.cow_reuse != CowReuse::refcount) s += fmt::format("+cow-reuse={}", to_string(side.cow_reuse));
  return s;
}

namespace {

constexpr size_t kPage = 4096;
constexpr unsigned kPipeBuffers = 16;  // PIPE_DEF_BUFFERS: a pipe holds 16 pages
constexpr const char* kDisk = "ram0,size=16M";

struct ModelFile {
  file* filp = nullptr;      // ext4 file (tmpfile kinds)
  mm_struct* holder = nullptr;  // memfd: an mm holding a shared anonymous mapping of the shmem object
  hugetlb_file* hugetlb = nullptr;  // memfd hugetlb: the hugetlbfs file (a reference)
  mmap_backing backing;         // memfd, memfd hugetlb: what its mappings fault from
  bool dio_written = false;     // the page cache may be stale: read through the device
};

struct PipeBuf {
  page* p;
  unsigned off, len;
};

struct Pin {
  std::vector<page*> pages;
  bool live = false;
};

/** The ext4 file's blocks for O_DIRECT, through bmap(). */
int ext4_dio_get_block(void* host, uint64_t pos, uint64_t len, bool create, dio_mapping* map) {
  auto* ino = static_cast<inode*>(host);
  const unsigned long bs = ino->i_sb->s_blocksize;
  sector_t blk = pos / bs;
  if (bmap(ino, &blk)) return -EINVAL;
  const uint64_t in_block = pos % bs;
  map->len = bs - in_block;
  map->mapped = blk != 0;
  map->sector = blk * (bs >> SECTOR_SHIFT) + (in_block >> SECTOR_SHIFT);
  if (!map->mapped && create) return -ENOTBLK;
  return 0;
}

class ModelSys final : public ModelConformSys {
 public:
  explicit ModelSys(const ModelSide& side) : side_(side) {
    MachineConfig c;
    c.ram_bytes = 64ull << 20;
    c.pin_design = side.design;
    c.cow_reuse = side.cow_reuse;
    c.thp = true;
    c.hugetlb_2m_pages = 4;
    c.refuse_longterm_file_pins = true;
    m_ = std::make_unique<Machine>(c);
    scope_ = std::make_unique<TaskScope>(m_->task_init("conform"));
    mms_.push_back(mm_alloc(m_.get()));
    scope_->task()->mm = mms_[0];
    scope_->task()->files = files_alloc();
  }

  ~ModelSys() override {
    if (!finished_) finish();
  }

  std::string side() const override { return side_name(side_); }

  std::string lacks(Facility f) override {
    switch (f) {
      case Facility::huge_zeropage: return "no huge zero page in the model (a read fault on a THP range allocates a THP)";
      case Facility::madv_collapse: return "no MADV_COLLAPSE in the model (no khugepaged collapse)";
      case Facility::mremap: return "no mremap() in the model";
      default: return "";
    }
  }

  std::string finish() override {
    if (finished_) return "";
    finished_ = true;
    std::string why;
    if (m_->halted() || m_->nr_oops()) {
      why = m_->nr_oops() ? "oops: " + m_->oopses()[0].format() : "the machine halted";
      for (mm_struct* mm : mms_)
        if (mm) mm_abandon(mm);
      scope_->task()->mm = nullptr;
      scope_.reset();
      return why;
    }
    for (Pin& p : pins_)
      if (p.live) unpin_user_pages(p.pages.data(), p.pages.size());
    for (auto& pipe : pipes_)
      for (PipeBuf& b : pipe) put_page(b.p);
    pipes_.clear();
    task_struct* t = scope_->task();
    t->mm = nullptr;
    for (mm_struct*& mm : mms_)
      if (mm) mmput(mm), mm = nullptr;
    for (ModelFile& f : files_) {
      if (f.filp) filp_close(f.filp);
      if (f.holder) mmput(f.holder);
      if (f.hugetlb) hugetlb_file_put(f.hugetlb);
    }
    put_files_struct(t->files);
    t->files = nullptr;
    if (mounted_ && m_->mounts().umount("/mnt")) why = "umount failed (busy pages)";
    rcu_barrier();
    const int64_t acq = m_->vmstat().read(NR_FOLL_PIN_ACQUIRED), rel = m_->vmstat().read(NR_FOLL_PIN_RELEASED);
    if (why.empty() && acq != rel) why = fmt::format("pins leaked: nr_foll_pin_acquired {} != released {}", acq, rel);
    if (why.empty() && nr_free_pages(m_.get()) != m_->boot_free_pages())
      why = fmt::format("pages leaked: {} free, {} at boot", nr_free_pages(m_.get()), m_->boot_free_pages());
    if (why.empty() && m_->nr_oops()) why = "oops: " + m_->oopses()[0].format();
    if (why.empty() && m_->nr_warnings()) why = "WARN: " + m_->warnings()[0].format();
    scope_.reset();
    return why;
  }

  // ---- processes and memory ---------------------------------------------------------
  int fork(int parent) override {
    mm_struct* mm = proc_mm(parent);
    if (!mm) return -ESRCH;
    mm_struct* child = dup_mm(mm);
    if (!child) return -ENOMEM;
    mms_.push_back(child);
    return static_cast<int>(mms_.size() - 1);
  }
  int exit(int proc) override {
    mm_struct* mm = proc_mm(proc);
    if (!mm || proc == 0) return -EINVAL;
    mmput(mm);
    mms_[proc] = nullptr;
    return 0;
  }
  long mmap(int proc, size_t len, int prot, int flags, int file) override {
    mm_struct* mm = proc_mm(proc);
    if (!mm) return -ESRCH;
    if (file < 0) return vm_mmap(mm, 0, len, prot, flags, nullptr, 0);
    ModelFile& f = files_.at(file);
    if (f.filp) return file_mmap(mm, f.filp, 0, len, prot, flags, 0);
    return vm_mmap_backed(mm, 0, len, prot, flags, f.backing, 0);
  }
  int munmap(int proc, uint64_t addr, size_t len) override {
    mm_struct* mm = proc_mm(proc);
    return mm ? vm_munmap(mm, addr, len) : -ESRCH;
  }
  int mprotect(int proc, uint64_t addr, size_t len, int prot) override {
    mm_struct* mm = proc_mm(proc);
    return mm ? do_mprotect(mm, addr, len, prot) : -ESRCH;
  }
  int madvise(int proc, uint64_t addr, size_t len, int advice) override {
    mm_struct* mm = proc_mm(proc);
    return mm ? do_madvise(mm, addr, len, advice) : -ESRCH;
  }
  long mremap(int, uint64_t, size_t, uint64_t) override { return -ENOSYS; }
  int store(int proc, uint64_t addr, const void* buf, size_t len) override {
    mm_struct* mm = proc_mm(proc);
    return mm ? uaccess_write(mm, addr, buf, len) : -ESRCH;
  }
  int load(int proc, uint64_t addr, void* buf, size_t len) override {
    mm_struct* mm = proc_mm(proc);
    return mm ? uaccess_read(mm, addr, buf, len) : -ESRCH;
  }
  int populated(int proc, uint64_t addr) override {
    mm_struct* mm = proc_mm(proc);
    if (!mm) return -ESRCH;
    SpinGuard g(&mm->page_table_lock);
    pgtable_slot* pmd = pmd_walk(mm, addr);
    if (!pmd) return 0;
    if (pmd_leaf(pmdp_get(pmd))) return 1;
    pgtable_slot* pte = pte_walk(mm, addr);
    return pte && pte_present(ptep_get(pte)) ? 1 : 0;
  }
  long force_write(int proc, uint64_t addr, const void* buf, size_t len) override {
    mm_struct* mm = proc_mm(proc);
    if (!mm) return -ESRCH;
    long r = access_remote_vm(mm, addr, const_cast<void*>(buf), len, FOLL_WRITE | FOLL_FORCE);
    return r > 0 ? r : -EFAULT;
  }

  // ---- files -----------------------------------------------------------------------
  int open_file(FileKind kind, size_t size) override {
    ModelFile f;
    if (kind == FileKind::memfd_hugetlb) {
      if (int r = hugetlbfs_file_create(m_.get(), size, &f.hugetlb)) return r;
      f.backing.hugetlb = f.hugetlb;
      files_.push_back(f);
      return static_cast<int>(files_.size() - 1);
    }
    if (kind == FileKind::memfd) {
      f.holder = mm_alloc(m_.get());
      if (!f.holder) return -ENOMEM;
      long a = vm_mmap(f.holder, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, nullptr, 0);
      if (a < 0) {
        mmput(f.holder);
        return static_cast<int>(a);
      }
      mmap_read_lock(f.holder);
      vm_area_struct* vma = vma_lookup(f.holder, a);
      f.backing.ops = vma->vm_ops;
      f.backing.private_data = vma->vm_private_data;
      f.backing.writable = true;
      mmap_read_unlock(f.holder);
    } else {
      if (int r = mount_disk()) return r;
      std::string path = fmt::format("/mnt/conform{}", files_.size());
      file* filp = filp_open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
      if (IS_ERR(filp)) return static_cast<int>(PTR_ERR(filp));
      f.filp = filp;
      if (int r = vfs_truncate(filp, static_cast<loff_t>(size))) return r;
      vfs_unlink(path.c_str());  // tmpfile(): the file has no name
    }
    files_.push_back(f);
    return static_cast<int>(files_.size() - 1);
  }
  long file_pread(int file, void* buf, size_t len, uint64_t off) override {
    ModelFile& f = files_.at(file);
    if (!f.filp) return -EINVAL;
    if (!f.dio_written) {
      loff_t pos = static_cast<loff_t>(off);
      return kernel_read(f.filp, buf, len, &pos);
    }
    // O_DIRECT wrote the device behind the page cache: read the blocks themselves.
    inode* ino = file_inode(f.filp);
    auto* rd = static_cast<ramdisk*>(ino->i_sb->s_bdev);
    for (size_t done = 0; done < len;) {
      dio_mapping map;
      if (int r = ext4_dio_get_block(ino, off + done, len - done, false, &map)) return r;
      const size_t n = std::min<size_t>(map.len, len - done);
      if (!map.mapped) {
        std::memset(static_cast<char*>(buf) + done, 0, n);
      } else if (int r = rd->read_sectors(map.sector, static_cast<unsigned>(n >> SECTOR_SHIFT),
                                          static_cast<char*>(buf) + done)) {
        return r;
      }
      done += n;
    }
    return static_cast<long>(len);
  }
  long file_pwrite(int file, const void* buf, size_t len, uint64_t off) override {
    ModelFile& f = files_.at(file);
    if (!f.filp) return -EINVAL;
    loff_t pos = static_cast<loff_t>(off);
    long r = kernel_write(f.filp, buf, len, &pos);
    if (r >= 0) vfs_fsync(f.filp, 0);
    return r;
  }
  long dio_read(int proc, int file, uint64_t addr, size_t len, uint64_t off) override {
    return dio(proc, file, addr, len, off, false);
  }
  long dio_write(int proc, int file, uint64_t addr, size_t len, uint64_t off) override {
    return dio(proc, file, addr, len, off, true);
  }
  long dio_read_racing_dontneed(int proc, int file, uint64_t addr, size_t len, int rounds) override {
    mm_struct* mm = proc_mm(proc);
    if (!mm) return -ESRCH;
    mmget(mm);
    task_struct* racer = m_->spawn("dontneed", [mm, addr, len, rounds] {
      for (int i = 0; i < rounds; i++) do_madvise(mm, addr, len, MADV_DONTNEED);
    }, mm);
    long ret = 0;
    for (int i = 0; i < rounds && ret >= 0; i++) {
      long r = dio_read(proc, file, addr, len, 0);
      if (r < 0) ret = r;
    }
    task_join(racer);
    mmput(mm);
    return ret;
  }
  long dio_read_uffd(int proc, int file, uint64_t addr, size_t len) override {
    mm_struct* mm = proc_mm(proc);
    if (!mm) return -ESRCH;
    long zero = vm_mmap(mm, 0, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, nullptr, 0);
    if (zero < 0) return zero;
    userfaultfd_ctx* ctx = userfaultfd(mm, O_CLOEXEC);
    if (IS_ERR(ctx)) return PTR_ERR(ctx);
    uffdio_api api{};
    api.api = UFFD_API;
    uffdio_register reg{};
    reg.range = {addr, len};
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    int r = userfaultfd_ioctl(ctx, UFFDIO_API, &api);
    if (!r) r = userfaultfd_ioctl(ctx, UFFDIO_REGISTER, &reg);
    if (r) {
      userfaultfd_close(ctx);
      return r;
    }
    const size_t npages = len / kPage;
    mmget(mm);
    task_struct* handler = m_->spawn("uffd-handler", [ctx, npages, zero] {
      size_t resolved = 0;
      while (resolved < npages) {
        uffd_msg msg{};
        if (userfaultfd_read(ctx, &msg) <= 0) break;
        if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
        uffdio_copy cp{};
        cp.dst = msg.arg.pagefault.address & ~(kPage - 1);
        cp.src = static_cast<uint64_t>(zero);
        cp.len = kPage;
        int e = userfaultfd_ioctl(ctx, UFFDIO_COPY, &cp);
        if (e == 0 || e == -EEXIST) resolved++;
      }
    }, mm);
    long got = dio_read(proc, file, addr, len, 0);
    if (got != static_cast<long>(len)) {
      userfaultfd_close(ctx);  // wakes the handler's read
      task_join(handler);
    } else {
      task_join(handler);
      userfaultfd_close(ctx);
    }
    mmput(mm);
    return got;
  }

  // ---- pipes -------------------------------------------------------------------------
  int pipe(int proc) override {
    if (!proc_mm(proc)) return -ESRCH;
    pipes_.emplace_back();
    return static_cast<int>(pipes_.size() - 1);
  }
  long vmsplice(int proc, int pipe, uint64_t addr, size_t len) override {
    auto& buf = pipes_.at(pipe);
    const size_t room = (kPipeBuffers - buf.size()) * kPage;
    len = std::min(len, room);
    const int n = static_cast<int>((len + kPage - 1) / kPage);
    if (n == 0) return -EAGAIN;
    std::vector<page*> pages(n);
    int got = as_current(proc, [&] { return get_user_pages_fast(addr, n, FOLL_NONE, pages.data()); });
    if (got <= 0) return got < 0 ? got : -EFAULT;
    for (int i = 0; i < got; i++) buf.push_back(PipeBuf{pages[i], 0, static_cast<unsigned>(kPage)});
    return static_cast<long>(std::min<size_t>(len, static_cast<size_t>(got) * kPage));
  }
  long pipe_read(int, int pipe, void* out, size_t len) override {
    auto& buf = pipes_.at(pipe);
    size_t done = 0;
    while (done < len && !buf.empty()) {
      PipeBuf& b = buf.front();
      const size_t n = std::min<size_t>(b.len, len - done);
      std::memcpy(static_cast<char*>(out) + done, static_cast<const char*>(page_address(b.p)) + b.off, n);
      done += n;
      b.off += static_cast<unsigned>(n);
      b.len -= static_cast<unsigned>(n);
      if (!b.len) {
        put_page(b.p);
        buf.pop_front();
      }
    }
    return static_cast<long>(done);
  }

  // ---- long-term pins --------------------------------------------------------------
  int fixed_buffer_register(int proc, uint64_t addr, size_t len) override {
    return take_pin(proc, addr, len, FOLL_WRITE | FOLL_LONGTERM, true);
  }
  long fixed_buffer_read(int handle, void* buf, size_t len) override { return pin_read(handle, buf, len); }
  int fixed_buffer_unregister(int handle) override { return unpin(handle); }
  int pin_longterm(int proc, uint64_t addr, size_t len, bool write, bool fast) override {
    return take_pin(proc, addr, len, FOLL_LONGTERM | (write ? FOLL_WRITE : FOLL_NONE), fast);
  }
  long pin_read(int handle, void* buf, size_t len) override {
    Pin& p = pins_.at(handle);
    if (!p.live) return -EINVAL;
    len = std::min(len, p.pages.size() * kPage);
    for (size_t i = 0; i * kPage < len; i++)
      std::memcpy(static_cast<char*>(buf) + i * kPage, page_address(p.pages[i]), std::min(kPage, len - i * kPage));
    return static_cast<long>(len);
  }
  int unpin(int handle) override {
    Pin& p = pins_.at(handle);
    if (!p.live) return -EINVAL;
    unpin_user_pages(p.pages.data(), p.pages.size());
    p.live = false;
    return 0;
  }

 private:
  mm_struct* proc_mm(int proc) {
    return proc >= 0 && static_cast<size_t>(proc) < mms_.size() ? mms_[proc] : nullptr;
  }

  /** as_current() - run @fn with process @proc's mm as current->mm. */
  template <typename F>
  std::invoke_result_t<F> as_current(int proc, F fn) {
    task_struct* t = scope_->task();
    mm_struct* saved = t->mm;
    t->mm = proc_mm(proc);
    auto r = fn();
    t->mm = saved;
    return r;
  }

  int take_pin(int proc, uint64_t addr, size_t len, foll_flags flags, bool fast) {
    mm_struct* mm = proc_mm(proc);
    if (!mm) return -ESRCH;
    const long n = static_cast<long>((len + kPage - 1) / kPage);
    Pin p;
    p.pages.resize(n);
    long got = as_current(proc, [&]() -> long {
      if (fast) return pin_user_pages_fast(addr, static_cast<int>(n), flags, p.pages.data());
      mmap_read_lock(mm);
      long r = pin_user_pages(addr, n, flags, p.pages.data());
      mmap_read_unlock(mm);
      return r;
    });
    if (got != n) {
      if (got > 0) unpin_user_pages(p.pages.data(), got);
      return got < 0 ? static_cast<int>(got) : -EFAULT;
    }
    p.live = true;
    pins_.push_back(std::move(p));
    return static_cast<int>(pins_.size() - 1);
  }

  long dio(int proc, int file, uint64_t addr, size_t len, uint64_t off, bool write) {
    ModelFile& f = files_.at(file);
    if (!f.filp) return -EINVAL;
    inode* ino = file_inode(f.filp);
    dio_file df;
    df.bdev = ino->i_sb->s_bdev;
    df.i_size = static_cast<uint64_t>(i_size_read(ino));
    df.get_block = ext4_dio_get_block;
    df.host = ino;
    df.is_blkdev = false;
    if (write) f.dio_written = true;
    return as_current(proc, [&] { return write ? dio_pwrite(&df, addr, len, off) : dio_pread(&df, addr, len, off); });
  }

  int mount_disk() {
    if (mounted_) return 0;
    if (int r = ext4_mkfs(m_.get(), kDisk, ext4_mkfs_options{4096, 0})) return r;
    std::string err;
    if (int r = m_->mounts().mount(kDisk, "/mnt", "ext4", "", &err)) return r;
    mounted_ = true;
    return 0;
  }

  ModelSide side_;
  std::unique_ptr<Machine> m_;
  std::unique_ptr<TaskScope> scope_;
  std::vector<mm_struct*> mms_;
  std::vector<ModelFile> files_;
  std::vector<std::deque<PipeBuf>> pipes_;
  std::vector<Pin> pins_;
  bool mounted_ = false;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<ModelConformSys> make_model_sys(const ModelSide& side) { return std::make_unique<ModelSys>(side); }

}  // namespace guplab::conform
