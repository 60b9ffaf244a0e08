// event.cc - names of sim events.
#include "sim/event.h"

namespace guplab {

const char* to_string(SimEventKind k) {
  switch (k) {
    case SimEventKind::task_start: return "task_start";
    case SimEventKind::task_end: return "task_end";
    case SimEventKind::switch_to: return "switch_to";
    case SimEventKind::block: return "block";
    case SimEventKind::wake: return "wake";
    case SimEventKind::sleep: return "sleep";
    case SimEventKind::sync_point: return "sync_point";
    case SimEventKind::rcu_gp_wait: return "rcu_gp_wait";
    case SimEventKind::rcu_callback: return "rcu_callback";
    case SimEventKind::spurious_wakeup: return "spurious_wakeup";
    case SimEventKind::buggify: return "buggify";
    case SimEventKind::deadlock: return "deadlock";
    case SimEventKind::halt: return "halt";
    case SimEventKind::abort_unwind: return "abort_unwind";
  }
  return "?";
}

}  // namespace guplab
