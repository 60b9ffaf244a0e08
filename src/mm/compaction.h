// compaction.h - memory compaction (the kernel's mm/compaction.c, cut down): move the
// movable pages of a zone, or of a range of frames, into free frames elsewhere, so that
// the range becomes free (a large allocation, a CMA allocation, hot-remove).
//
// Two scanners, as upstream: the migrate scanner walks the source frames upwards and
// isolates what is on the LRU; the free scanner walks the zone's frames downwards and
// takes free ones as targets (take_free_page()). compact_zone() runs them towards each
// other over a whole zone until they meet; compact_range() empties [start, end) into
// free frames of the same zone outside it (alloc_contig_range()'s job). Each page moves
// with migrate_pages() (mm/migrate.h), so a page that may be DMA-pinned stays where it
// is under every design that tracks pins, and moves anyway under `get`.
//
// Threading: any task with no mm lock, page lock or page-table lock held; concurrent
// compactions of one zone are allowed (each takes its targets off the free lists).
#pragma once
#include "mm/migrate.h"

namespace guplab {

class Machine;

/** compact_control - what one compaction did (and how: @mode). */
struct compact_control {
  migrate_mode mode = MIGRATE_SYNC;
  unsigned long nr_migrate_scanned = 0;  // source frames looked at
  unsigned long nr_free_scanned = 0;     // frames the free scanner looked at
  unsigned long nr_isolated = 0;         // source folios taken off the LRU
  unsigned long nr_migrated = 0;         // ...that moved
  unsigned long nr_failed = 0;           // ...that stayed (pinned, referenced, unmovable)
};

/**
 * compact_range() - migrate every movable page in frames [@start_pfn, @end_pfn) to free
 * frames of the same zone outside the range, highest first. Returns 0 if every page it
 * isolated moved, -EAGAIN if some stayed, -ENOMEM if it ran out of target frames,
 * -EINVAL for an empty range or one that is not inside one zone. Counts in @cc.
 */
int compact_range(Machine* m, unsigned long start_pfn, unsigned long end_pfn, compact_control* cc);

/**
 * compact_zone() - compact zone @zid (ZONE_NORMAL or ZONE_MOVABLE): the migrate scanner
 * from the bottom, the free scanner from the top, until they meet. Returns as
 * compact_range() does (-EINVAL for an empty zone).
 */
int compact_zone(Machine* m, unsigned zid, compact_control* cc);

}  // namespace guplab
