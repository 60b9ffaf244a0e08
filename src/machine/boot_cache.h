// boot_cache.h - BootCache: host resources that machines booted one after another on
// one host thread can reuse, so that booting is cheap when it happens thousands of
// times (the sim explorer): the RAM arena and mem_map mappings, fiber stacks, the host
// buffers of ramdisks (block/host_buffer_cache.h), and the table of sync point names.
//
// A machine booted with a cache (MachineConfig::boot_cache) behaves exactly as one
// booted without: what it reuses is reset to what a fresh mapping shows.
//
// Threading: one host thread at a time; it must outlive every machine using it.
#pragma once
#include <cstddef>
#include <memory>

#include "block/host_buffer_cache.h"
#include "machine/sync_point.h"
#include "mm/memory_model.h"
#include "sim/stack_pool.h"

namespace guplab {

struct BootCache {
  PhysMemCache mem;
  HostBufferCache bufs;  // ramdisk storage and generations (block/ramdisk.h)
  SyncPoints::Names sync_names;  // the names sync points were reached by (machine/sync_point.h)
  /** stacks() - a stack pool of at least @size bytes a stack (replaced when too small). */
  StackPool* stacks(size_t size) {
    if (!stacks_ || stacks_->stack_size() < size) {
      if (stacks_ && stacks_->outstanding()) return nullptr;  // in use by a live machine
      stacks_ = std::make_unique<StackPool>(size);
    }
    return stacks_.get();
  }

 private:
  std::unique_ptr<StackPool> stacks_;
};

}  // namespace guplab
