// sync_point.h - named sync points for scripted interleavings (RocksDB's SyncPoint).
//
// Model code marks places with TEST_SYNC_POINT("rmap:try_to_unmap:start"). A test or
// scenario loads dependencies {("A", "B")}: a task reaching "B" waits until some task
// has passed "A". Callbacks run when a point is reached (to inject DMA, reclaim, ...).
// Disabled (the default) a sync point costs one relaxed load. Under the sim backend a
// sync point is one scheduling point that traces record; the bookkeeping behind it (the
// tables below, lab state that no model task reads) takes none, so that the lab does not
// widen the model's windows with points of its own. Only a point with a loaded
// predecessor can wait, and only loaded dependencies make a task wake the waiters.
//
// Threading: any task. Configure before the tasks run; process() from any task;
// clear_all() also while a task is inside process() (that pass then counts afresh).
#pragma once
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/raw_spinlock.h"
#include "base/wait.h"

namespace guplab {

class SyncPoints {
 private:
  /** What the table knows of one name. */
  struct Point {
    std::vector<std::string> predecessors;  // loaded: each must be passed before this one
    // Shared, so that a pass takes its own reference under the lock and runs it unlocked
    // without copying the callable (a copy may allocate).
    std::shared_ptr<const std::function<void()>> callback;
    unsigned long passed = 0;
    bool ordered = false;  // named in a loaded dependency (either side)
  };
  /** Hashes a name as a string_view: process() looks one up without building a string. */
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Entry = std::pair<const std::string, Point>;
  struct Memo {
    const char* name = nullptr;                   // the address process() was given
    Entry* entry = nullptr;                       // its entry in the table
  };
  static constexpr size_t kMemoSlots = 64;

 public:
  /**
   * Names: the names a machine's sync points were reached by (the table's entries and
   * the memo that finds them by address), kept from one machine to the next booted on
   * the same host thread (BootCache) so that a schedule does not build them again. Each
   * point in it reads as in a fresh table: never passed, no callback, no dependency.
   */
  class Names {
   public:
    size_t size() const { return points_.size(); }

   private:
    friend class SyncPoints;
    std::unordered_map<std::string, Point, NameHash, std::equal_to<>> points_;
    std::array<Memo, kMemoSlots> memo_{};
  };
  /** adopt() - take @n's names (@n is left empty). REQUIRES: nothing configured or passed yet. */
  void adopt(Names&& n);
  /**
   * release() - every point reset as in a fresh table and the names handed out (none past
   * kMaxKeptNames of them); this table is left empty, as clear_all() leaves it.
   */
  Names release();
  static constexpr size_t kMaxKeptNames = 4096;

  /** load_dependency() - each (predecessor, successor): successor waits for predecessor. */
  void load_dependency(const std::vector<std::pair<std::string, std::string>>& deps);
  /** set_callback() - run @fn (in the reaching task) each time @name is reached. */
  void set_callback(const std::string& name, std::function<void()> fn);
  void clear_all();
  void enable() { enabled_.store(true, std::memory_order_release); }
  void disable() { enabled_.store(false, std::memory_order_release); }
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  /** process() - the running task reached @name. */
  void process(const char* name);
  /** reached() - has @name been passed at least once? */
  bool reached(const std::string& name);
  /** hits() - how many times @name was passed. */
  unsigned long hits(const std::string& name);
  /**
   * never_passed() - the points named in a loaded dependency (either side) that no task
   * has passed, sorted. After a run, a non-empty answer means the run was not the
   * interleaving the dependencies describe (a misspelt or renamed point, or a path that
   * no longer passes it).
   */
  std::vector<std::string> never_passed();

 private:
  std::atomic<bool> enabled_{false};
  RawSpinlock lock_;  // never held across a scheduling point or a callback
  bool has_deps_ GUARDED_BY(lock_) = false;  // a dependency is loaded: a task may wait
  /** entry() - @name's entry in names_, made empty on first use; clear_all() frees it. */
  Entry& entry(std::string_view name) REQUIRES(lock_);
  /** point() - @name's entry, made empty on first use; clear_all() frees it (do not keep it unlocked). */
  Point& point(std::string_view name) REQUIRES(lock_) { return entry(name).second; }
  /**
   * point_of() - as point() for a name process() was given: a pass finds its entry by the
   * name's address first (a direct-mapped memo checked against the entry's own key, so an
   * address that now holds another name is looked up afresh), without hashing the name.
   */
  Point& point_of(const char* name) REQUIRES(lock_);

  // One lookup for most passes: a sync point is reached hundreds of times per schedule.
  Names names_ GUARDED_BY(lock_);  // the memo is emptied with the entries
  wait_queue_head_t wq_;
};

/** sync_point() - process @name on the running task's machine, if it has sync points on. */
void sync_point(const char* name);

}  // namespace guplab

#define TEST_SYNC_POINT(name) ::guplab::sync_point(name)
