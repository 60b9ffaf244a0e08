// sched.cc - storage for the per-thread backend pointer.
#include "base/sched.h"

namespace guplab {
constinit thread_local SimHooks* tls_sim_hooks = nullptr;
}  // namespace guplab
