// genhd.cc - the device table, and devices from spec strings.
#include "block/genhd.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "base/errno.h"
#include "block/pmem.h"
#include "block/ramdisk.h"
#include "block/uring.h"
#include "machine/config.h"
#include "machine/machine.h"

namespace guplab {

namespace {

struct parsed_spec {
  std::string name;     // up to the first comma
  std::string options;  // after it ("" if none)
  std::vector<std::pair<std::string, std::string>> kv;
};

int parse_spec(std::string_view spec, parsed_spec* out, std::string* err) {
  const size_t comma = spec.find(',');
  out->name = std::string(spec.substr(0, comma));
  out->options = comma == std::string_view::npos ? "" : std::string(spec.substr(comma + 1));
  if (out->name.empty()) {
    if (err) *err = "empty device name";
    return -EINVAL;
  }
  std::string_view rest = out->options;
  while (!rest.empty()) {
    const size_t c = rest.find(',');
    std::string_view item = rest.substr(0, c);
    rest = c == std::string_view::npos ? std::string_view{} : rest.substr(c + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      if (err) *err = fmt::format("{}: option '{}' is not key=value", out->name, item);
      return -EINVAL;
    }
    out->kv.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return 0;
}

bool parse_uint(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

/** parse_duration() - "250", "250ns", "20us", "5ms", "1s" -> nanoseconds. */
bool parse_duration(std::string_view s, uint64_t* ns) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
  uint64_t v;
  if (!parse_uint(s.substr(0, i), &v)) return false;
  const std::string_view unit = s.substr(i);
  uint64_t mult;
  if (unit.empty() || unit == "ns")
    mult = 1;
  else if (unit == "us")
    mult = NSEC_PER_USEC;
  else if (unit == "ms")
    mult = NSEC_PER_MSEC;
  else if (unit == "s")
    mult = NSEC_PER_SEC;
  else
    return false;
  *ns = v * mult;
  return true;
}

bool is_ram_name(std::string_view n) {
  if (n.size() < 4 || n.substr(0, 3) != "ram") return false;
  for (char c : n.substr(3))
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

int bad_option(const parsed_spec& ps, const std::string& key, const std::string& val, std::string* err) {
  if (err) *err = fmt::format("{}: bad option {}={}", ps.name, key, val);
  return -EINVAL;
}

int create_ramdisk(Machine* m, const parsed_spec& ps, std::unique_ptr<block_device>* out, std::string* err) {
  ramdisk_config cfg;
  for (const auto& [k, v] : ps.kv) {
    uint64_t n = 0;
    if (k == "size") {
      auto sz = parse_size(v);
      if (!sz) return bad_option(ps, k, v, err);
      cfg.size_bytes = *sz;
    } else if (k == "latency") {
      if (!parse_duration(v, &cfg.latency_ns)) return bad_option(ps, k, v, err);
    } else if (k == "depth") {
      if (!parse_uint(v, &n) || n == 0 || n > 4096) return bad_option(ps, k, v, err);
      cfg.queue_depth = static_cast<unsigned>(n);
    } else if (k == "lbs") {
      // The spec's DMA alignment is the block size, and a bio_vec is at most a page: a
      // block larger than a page could never be transferred.
      if (!parse_uint(v, &n) || n < SECTOR_SIZE || n > PAGE_SIZE || (n & (n - 1))) {
        if (err)
          *err = fmt::format("{}: bad option lbs={}: the logical block size must be a power of two from {} to {} "
                             "(a page)",
                             ps.name, v, SECTOR_SIZE, PAGE_SIZE);
        return -EINVAL;
      }
      cfg.limits.logical_block_size = cfg.limits.physical_block_size = static_cast<unsigned>(n);
      cfg.limits.dma_alignment = static_cast<unsigned>(n) - 1;
    } else if (k == "chunk") {
      if (!parse_uint(v, &n) || n == 0 || n > PAGE_SIZE) return bad_option(ps, k, v, err);
      cfg.dma_chunk = static_cast<unsigned>(n);
    } else if (k == "generations") {
      if (v != "on" && v != "off") return bad_option(ps, k, v, err);
      cfg.track_generations = v == "on";
    } else {
      if (err) *err = fmt::format("{}: unknown option '{}' (size, latency, depth, lbs, chunk, generations)", ps.name, k);
      return -EINVAL;
    }
  }
  const unsigned lbs = cfg.limits.logical_block_size;
  if (cfg.size_bytes == 0 || cfg.size_bytes % lbs) {
    if (err)
      *err = fmt::format("{}: bad option size={}: the size must be a positive multiple of the logical block size ({})",
                         ps.name, cfg.size_bytes, lbs);
    return -EINVAL;
  }
  std::unique_ptr<ramdisk> rd;
  if (int ret = ramdisk::create(m, ps.name, cfg, &rd); ret < 0) {
    if (err) *err = fmt::format("{}: cannot create ramdisk: {}", ps.name, errname(ret));
    return ret;
  }
  *out = std::move(rd);
  return 0;
}

int create_pmem(Machine* m, const parsed_spec& ps, std::unique_ptr<block_device>* out, std::string* err) {
  pmem_options opt;
  for (const auto& [k, v] : ps.kv) {
    uint64_t n = 0;
    if (k == "latency") {
      if (!parse_duration(v, &opt.latency_ns)) return bad_option(ps, k, v, err);
    } else if (k == "depth") {
      if (!parse_uint(v, &n) || n == 0 || n > 4096) return bad_option(ps, k, v, err);
      opt.queue_depth = static_cast<unsigned>(n);
    } else if (k == "chunk") {
      if (!parse_uint(v, &n) || n == 0 || n > PAGE_SIZE || n % 8) return bad_option(ps, k, v, err);
      opt.dma_chunk = static_cast<unsigned>(n);
    } else {
      if (err) *err = fmt::format("{}: unknown option '{}' (latency, depth, chunk)", ps.name, k);
      return -EINVAL;
    }
  }
  return pmem_create(m, ps.name, opt, out, err);
}

int create_uring(Machine* m, const parsed_spec& ps, std::unique_ptr<block_device>* out, std::string* err) {
  uring_config cfg;
  cfg.path = ps.name.substr(6);  // after "uring:"
  for (const auto& [k, v] : ps.kv) {
    uint64_t n = 0;
    if (k == "depth") {
      if (!parse_uint(v, &n) || n == 0 || n > 4096) return bad_option(ps, k, v, err);
      cfg.queue_depth = static_cast<unsigned>(n);
    } else if (k == "size") {
      auto sz = parse_size(v);
      if (!sz || *sz == 0) return bad_option(ps, k, v, err);
      cfg.create_size = *sz;
    } else if (k == "ro") {
      if (v != "on" && v != "off") return bad_option(ps, k, v, err);
      cfg.read_only = v == "on";
    } else {
      if (err) *err = fmt::format("{}: unknown option '{}' (depth, size, ro)", ps.name, k);
      return -EINVAL;
    }
  }
  std::unique_ptr<uring_disk> d;
  if (int ret = uring_disk::create(m, ps.name, cfg, &d, err); ret < 0) return ret;
  *out = std::move(d);
  return 0;
}

}  // namespace

int create_block_device(Machine* m, std::string_view spec, std::unique_ptr<block_device>* out, std::string* err) {
  parsed_spec ps;
  if (int ret = parse_spec(spec, &ps, err); ret < 0) return ret;
  std::unique_ptr<block_device> d;
  int ret;
  if (is_ram_name(ps.name)) {
    ret = create_ramdisk(m, ps, &d, err);
  } else if (is_pmem_name(ps.name)) {
    ret = create_pmem(m, ps, &d, err);
  } else if (ps.name.rfind("uring:", 0) == 0 && ps.name.size() > 6) {
    ret = create_uring(m, ps, &d, err);
  } else {
    if (err) *err = fmt::format("{}: no such device (ram<N>, pmem0 or uring:PATH)", ps.name);
    return -ENODEV;
  }
  if (ret < 0) return ret;
  d->bd_spec = ps.options;
  *out = std::move(d);
  return 0;
}

BlockLayer::~BlockLayer() {
  std::map<std::string, std::unique_ptr<block_device>, std::less<>> disks;
  {
    RawSpinGuard g(lock_);
    disks.swap(disks_);
  }
  // Destroying a device stops it (waits for its I/O, joins its completion task):
  // outside the table lock.
  disks.clear();
}

int BlockLayer::add_disk(std::unique_ptr<block_device> disk) {
  if (!disk) return -EINVAL;
  {
    RawSpinGuard g(lock_);
    if (!disks_.count(disk->name())) {
      std::string name = disk->name();
      disks_.emplace(std::move(name), std::move(disk));
      return 0;
    }
  }
  return -EEXIST;  // @disk goes here, outside the lock
}

void BlockLayer::flush_deferred() {
  std::vector<block_device*> devs;
  {
    RawSpinGuard g(lock_);
    for (auto& [name, disk] : disks_) devs.push_back(disk.get());
  }
  for (block_device* d : devs) d->flush_deferred();  // sleeps: not under lock_
}

void BlockLayer::sim_run_ended() {
  RawSpinGuard g(lock_);
  for (auto& [name, disk] : disks_) disk->sim_run_ended();
}

int BlockLayer::del_gendisk(std::string_view name) {
  std::unique_ptr<block_device> victim;
  {
    RawSpinGuard g(lock_);
    auto it = disks_.find(name);
    if (it == disks_.end()) return -ENOENT;
    if (it->second->bd_openers.load(std::memory_order_relaxed) > 0) return -EBUSY;
    victim = std::move(it->second);
    disks_.erase(it);
  }
  victim.reset();
  return 0;
}

block_device* BlockLayer::open(std::string_view spec, std::string* err) {
  parsed_spec ps;
  if (int ret = parse_spec(spec, &ps, err); ret < 0) return ERR_PTR<block_device>(ret);
  {
    RawSpinGuard g(lock_);
    auto it = disks_.find(ps.name);
    if (it != disks_.end()) {
      block_device* d = it->second.get();
      if (!ps.options.empty() && ps.options != d->bd_spec) {
        if (err) *err = fmt::format("{} exists, created with options '{}', not '{}'", ps.name, d->bd_spec, ps.options);
        return ERR_PTR<block_device>(-EEXIST);
      }
      d->bd_openers.fetch_add(1, std::memory_order_relaxed);
      return d;
    }
  }
  std::unique_ptr<block_device> fresh;
  if (int ret = create_block_device(machine_, spec, &fresh, err); ret < 0) return ERR_PTR<block_device>(ret);
  block_device* d = fresh.get();
  {
    RawSpinGuard g(lock_);
    auto it = disks_.find(ps.name);
    if (it == disks_.end()) {
      d->bd_openers.store(1, std::memory_order_relaxed);
      disks_.emplace(ps.name, std::move(fresh));
      return d;
    }
    d = it->second.get();  // someone else created it meanwhile: use theirs
    d->bd_openers.fetch_add(1, std::memory_order_relaxed);
  }
  fresh.reset();
  return d;
}

void BlockLayer::close(block_device* bdev) {
  if (!bdev) return;
  if (WARN_ON_ONCE(bdev->bd_openers.fetch_sub(1, std::memory_order_relaxed) <= 0))
    bdev->bd_openers.fetch_add(1, std::memory_order_relaxed);  // an unbalanced close: undo it
}

block_device* BlockLayer::lookup(std::string_view name) const {
  RawSpinGuard g(lock_);
  auto it = disks_.find(name);
  return it == disks_.end() ? nullptr : it->second.get();
}

std::vector<std::string> BlockLayer::names() const {
  RawSpinGuard g(lock_);
  std::vector<std::string> out;
  for (const auto& [n, d] : disks_) out.push_back(n);
  return out;
}

block_device* blkdev_get_by_path(Machine* m, std::string_view spec, std::string* err) {
  return m->block().open(spec, err);
}

void blkdev_put(block_device* bdev) {
  if (bdev) bdev->machine()->block().close(bdev);
}

int add_disk(Machine* m, std::unique_ptr<block_device> disk) { return m->block().add_disk(std::move(disk)); }

int del_gendisk(Machine* m, std::string_view name) { return m->block().del_gendisk(name); }

}  // namespace guplab
