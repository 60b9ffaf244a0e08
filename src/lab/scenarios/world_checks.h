// world_checks.h - oracle steps the scenarios end with: what the disk holds for a page
// (torn? the newest write?), and, after unmounting or once the processes exited,
// whether every page frame came back.
//
// Threading: from the scenario's body once its tasks are joined (the machine is quiet
// but for the flusher and the devices' completion tasks).
#pragma once
#include <string_view>

#include "drivers/dma_stamp.h"

namespace guplab {

class ScenarioContext;
class FileWorld;

/**
 * check_page_newest() - read page @i of @w's file from the medium: it must not be torn,
 * and it must hold the newest write of that page, the task's (FileWorld::task_last())
 * or @device's, whichever came last, unless the process discarded the page after both
 * (FileWorld::task_discard(): then no write from before the discard, and a hole is
 * fine). Reports torn, lost, warn (cannot read it back) or ok.
 */
void check_page_newest(ScenarioContext& ctx, const FileWorld& w, unsigned long i, const dma_stamp& device);

/**
 * close_and_check_frames() - the lab's teardown (ScenarioContext::teardown(): no
 * choices under the explorer): FileWorld::close() (munmap, close, umount), then every
 * page frame of the machine must be free again (nothing leaked, no pinned page left
 * behind). Reports warn (umount failed) or leak, or ok. REQUIRES: every task joined.
 */
void close_and_check_frames(ScenarioContext& ctx, FileWorld& w);

/**
 * check_frames_free() - the lab's teardown (ScenarioContext::teardown()); after
 * rcu_barrier(), every page frame of the machine must be free again: reports leak (with
 * @when in the words) and returns false, or returns true (reporting nothing).
 * REQUIRES: every task joined.
 */
bool check_frames_free(ScenarioContext& ctx, std::string_view when);

class PinWitness;
class RdmaDevice;

/**
 * sync_and_check() - how the device scenarios end: sync(2) the file (warn if it
 * fails), the witness's summary, check_page_newest() of each of the first @npages pages
 * against @dev's last write, then close_and_check_frames().
 */
void sync_and_check(ScenarioContext& ctx, FileWorld& w, PinWitness& witness, const RdmaDevice& dev,
                    unsigned long npages);

}  // namespace guplab
