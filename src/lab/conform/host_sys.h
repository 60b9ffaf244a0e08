// host_sys.h - the host kernel side of the conformance cases: ConformSys by real
// syscalls. Process 0 is the calling process (the runner forks one per case, so a crash
// or a leak harms nothing); fork() makes a child that serves the case's requests for it
// (load, store, munmap, mprotect, madvise, pipe, vmsplice, read, exit) over a pair of
// pipes, so a case is one sequential script whatever process each step runs in.
//
// Threading: one thread drives a HostSys. dio_read_racing_dontneed() and dio_read_uffd()
// start a host thread of their own (the racer, the fault handler) and join it.
#pragma once
#include <memory>

#include "lab/conform/sys.h"

namespace guplab::conform {

/** make_host_sys() - the host side, for use in the process that runs one case. */
std::unique_ptr<ConformSys> make_host_sys();

/** host_kernel_release() - uname -r. */
std::string host_kernel_release();

}  // namespace guplab::conform
