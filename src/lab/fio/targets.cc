// targets.cc - choosing, sizing, opening, checking and laying out a fio run's devices.
#include "lab/fio/targets.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "base/errno.h"
#include "base/task.h"
#include "block/blkdev.h"
#include "block/genhd.h"
#include "fs/direct-io.h"
#include "lab/fio/io_job.h"
#include "lab/fio/mem_budget.h"
#include "lab/fio/units.h"
#include "machine/machine.h"
#include "mm/fork.h"
#include "mm/mmap.h"

namespace guplab::fio {

namespace {

/** The embedded ramdisk of a time_based job with no size: this much past its offset. */
constexpr uint64_t kDefaultRamBytes = 64ull << 20;
constexpr unsigned kMinDepth = 64;
constexpr unsigned kMaxDepth = 4096;
constexpr uint64_t kLayoutChunk = 1ull << 20;
/** Files over all jobs (the same name counted in each job that names it). */
constexpr uint64_t kMaxFiles = 65536;

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

/** has_key() - does the comma-separated option list of @spec set @key? */
bool has_key(const std::string& spec, const std::string& key) {
  size_t pos = spec.find(',');
  while (pos != std::string::npos) {
    const size_t next = spec.find(',', pos + 1);
    const std::string item = spec.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (item.rfind(key + "=", 0) == 0) return true;
    pos = next;
  }
  return false;
}

/** is_ram_name() - "ram" and a number: an embedded ramdisk (block/genhd.h). */
bool is_ram_name(const std::string& name) {
  return name.size() > 3 && name.rfind("ram", 0) == 0 &&
         std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string where(const std::string& source, const JobSpec& j) {
  return fmt::format("{}:{}: job '{}'", source, j.line, j.name);
}

/**
 * finish_spec() - @t's spec with the size and depth its jobs need, unless given. A uring
 * host file that is one of @keep is refused.
 */
Result<bool> finish_spec(TargetPlan* t, const std::vector<JobSpec>& jobs, std::span<const FileId> keep) {
  unsigned depth = 0;
  for (size_t i : t->jobs) depth += is_sync_engine(jobs[i].ioengine) ? 1 : jobs[i].iodepth;
  depth = std::clamp(depth, kMinDepth, kMaxDepth);
  const std::string name = t->spec.substr(0, t->spec.find(','));
  if (name == "uring:") return Error{"'uring:' needs a PATH (uring:PATH)"};
  if (name.rfind("uring:", 0) == 0) {
    t->host_path = name.substr(6);
    struct stat st;
    if (::stat(t->host_path.c_str(), &st) == 0) {
      const FileId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
      if (std::find(keep.begin(), keep.end(), id) != keep.end())
        return Error{fmt::format("{} is the job file itself: the run would overwrite it; give another file",
                                 t->host_path)};
      t->host_existed = true;
      t->host_regular = S_ISREG(st.st_mode);
      t->host_old_size = t->host_regular ? static_cast<uint64_t>(st.st_size) : 0;
    } else if (errno == ENOENT) {
      t->host_regular = true;
    } else {
      return Error{fmt::format("{}: {}", t->host_path, std::strerror(errno))};
    }
    if (t->host_regular && !has_key(t->spec, "size")) {
      if (!t->host_existed && t->need_bytes == 0)
        return Error{fmt::format("{}: does not exist, and no job gives a size to create it with", t->host_path)};
      if (t->need_bytes > t->host_old_size) t->spec += fmt::format(",size={}", t->need_bytes);
    }
    // Reads only, of a file (or block device) that is there and is not to be grown: read-only.
    if (!t->any_writes && t->host_existed && !has_key(t->spec, "size") && !has_key(t->spec, "ro"))
      t->spec += ",ro=on";
  } else {
    if (!is_ram_name(name)) {
      // genhd has other devices (pmem0 is the machine's DAX region, for fs-DAX), but a fio
      // run boots only these: its machine has no pmem region.
      return Error{fmt::format("{}: no such device for guplab fio (uring:PATH or ram<N>)", name)};
    }
    if (!has_key(t->spec, "size"))
      t->spec += fmt::format(",size={}", std::max<uint64_t>(t->need_bytes, 1) > UINT64_MAX - (1 << 20)
                                             ? t->need_bytes
                                             : round_up(std::max<uint64_t>(t->need_bytes, 1), 1 << 20));
    if (!has_key(t->spec, "generations")) t->spec += ",generations=off";
  }
  if (!has_key(t->spec, "depth")) t->spec += fmt::format(",depth={}", depth);
  return true;
}

}  // namespace

Result<std::vector<TargetPlan>> plan_targets(const std::vector<JobSpec>& jobs, const std::string& device,
                                             const std::string& source, std::span<const FileId> keep) {
  std::vector<TargetPlan> out;
  std::map<std::string, size_t> by_file;
  uint64_t nfiles = 0;
  for (const JobSpec& j : jobs) nfiles += j.nr_files();
  if (nfiles > kMaxFiles)
    return Error{fmt::format("{}: {} files over all jobs (nrfiles times numjobs); guplab fio runs at most {}", source,
                             nfiles, kMaxFiles)};
  for (size_t i = 0; i < jobs.size(); i++) {
    const JobSpec& j = jobs[i];
    const std::vector<std::string> names = j.files();
    if (!device.empty() && names.size() > 1)
      return Error{fmt::format("{}: {} files, but --device gives one device: guplab fio runs a job of several files "
                               "on the embedded ramdisks only (one per file)",
                               where(source, j), names.size())};
    for (size_t f = 0; f < names.size(); f++) {
      size_t t;
      if (!device.empty()) {
        if (out.empty()) out.emplace_back().spec = device;
        t = 0;
      } else {
        auto [it, fresh] = by_file.emplace(names[f], out.size());
        if (fresh) out.emplace_back().spec = fmt::format("ram{}", out.size());
        t = it->second;
      }
      TargetPlan& tp = out[t];
      tp.jobs.push_back(i);
      tp.files.push_back(f);
      tp.need_bytes = std::max(tp.need_bytes, j.size ? sat_add(j.offset, j.file_bytes())
                                                      : (device.empty() ? sat_add(j.offset, kDefaultRamBytes) : 0));
      tp.any_reads = tp.any_reads || does_read(j.rw);
      tp.any_writes = tp.any_writes || does_write(j.rw);
    }
  }
  for (TargetPlan& tp : out)
    if (auto r = finish_spec(&tp, jobs, keep); !r) return Error{fmt::format("{}: --device: {}", source, r.error())};
  return out;
}

Result<block_device*> open_target(Machine* m, const TargetPlan& t) {
  std::string err;
  block_device* bdev = blkdev_get_by_path(m, t.spec, &err);
  if (IS_ERR(bdev)) {
    const int e = static_cast<int>(PTR_ERR(bdev));
    return Error{fmt::format("cannot open device '{}': {}", t.spec, err.empty() ? errname(e) : err)};
  }
  return bdev;
}

Result<bool> check_jobs(const std::vector<JobSpec>& jobs, const TargetPlan& t, const block_device* bdev,
                        const std::string& source, std::vector<std::vector<uint64_t>>* region_bytes) {
  const uint64_t cap = bdev_nr_sectors(bdev) << SECTOR_SHIFT;
  const unsigned lbs = bdev_logical_block_size(bdev);
  for (size_t k = 0; k < t.jobs.size(); k++) {
    const JobSpec& j = jobs[t.jobs[k]];
    for (uint64_t b : {j.min_bs(), j.max_bs()})
      if (b % lbs)
        return Error{fmt::format("{}: bs={} is not a multiple of {}'s logical block size ({})", where(source, j), b,
                                 bdev->name(), lbs)};
    if (j.offset % lbs)
      return Error{fmt::format("{}: offset={} is not a multiple of {}'s logical block size ({})", where(source, j),
                               j.offset, bdev->name(), lbs)};
    const uint64_t want = j.size ? j.file_bytes() : 0;
    if (j.offset >= cap || cap - j.offset < std::max(want, j.max_bs()))
      return Error{fmt::format("{}: offset + size ({} bytes) is past the end of {} ({} bytes)", where(source, j),
                               j.offset + std::max(want, j.max_bs()), bdev->name(), cap)};
    (*region_bytes)[t.jobs[k]][t.files[k]] = want ? want : cap - j.offset;
  }
  return true;
}

Result<bool> lay_out(const TargetPlan& t, block_device* bdev, const std::string& job_name, FILE* out) {
  if (!t.host_regular || !t.any_reads || t.need_bytes <= t.host_old_size) return true;
  const unsigned lbs = bdev_logical_block_size(bdev);
  const uint64_t cap = bdev_nr_sectors(bdev) << SECTOR_SHIFT;
  // From the old end rounded up: the bytes the file had are never written (ftruncate() has
  // zero-filled the rest of their last block).
  uint64_t pos = round_up(t.host_old_size, lbs);
  const uint64_t end = std::min(cap, t.need_bytes / lbs * lbs);
  if (out) {
    fmt::print(out, "{}: Laying out IO file (1 file / {})\n", job_name, num2str(t.need_bytes, 4, 1, true, Unit::byte));
    fflush(out);
  }
  task_struct* task = current();
  mm_struct* mm = mm_alloc(task->machine);
  if (!mm) return Error{fmt::format("{}: laying out: out of memory", t.host_path)};
  task->mm = mm;
  long err = 0;
  const long addr = vm_mmap(mm, 0, kLayoutChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                            nullptr, 0);
  if (addr < 0) err = addr;
  dio_file f = blkdev_dio_file(bdev);
  while (!err && pos < end) {
    const uint64_t n = std::min(end - pos, kLayoutChunk);
    const long ret = dio_pwrite(&f, static_cast<unsigned long>(addr), n, pos);
    if (ret < 0) err = ret;
    else if (ret == 0) err = -EIO;
    else pos += static_cast<uint64_t>(ret);
  }
  if (addr > 0) vm_munmap(mm, static_cast<unsigned long>(addr), kLayoutChunk);
  task->mm = nullptr;
  mmput(mm);
  if (err) return Error{fmt::format("{}: laying out: {}", t.host_path, errname(static_cast<int>(err)))};
  return true;
}

Result<bool> undo_target(const TargetPlan& t) {
  if (t.host_path.empty() || !t.host_regular) return true;
  if (!t.host_existed) {
    if (::unlink(t.host_path.c_str()) != 0 && errno != ENOENT)
      return Error{fmt::format("{}: cannot remove the file this run created: {}", t.host_path, std::strerror(errno))};
    return true;
  }
  // Only what this run added goes: the layout never writes below the old size.
  struct stat st;
  if (::stat(t.host_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) <= t.host_old_size)
    return true;
  if (::truncate(t.host_path.c_str(), static_cast<off_t>(t.host_old_size)) != 0)
    return Error{fmt::format("{}: cannot put it back to its old size ({} bytes): {}", t.host_path, t.host_old_size,
                             std::strerror(errno))};
  return true;
}

}  // namespace guplab::fio
