// mem_budget.h - how much host memory a fio run would take, checked before anything is
// allocated: each embedded ramdisk's storage (its size=, and 8 bytes a sector more with
// generations=on; one ramdisk per file of a job), the model machine's RAM (its base plus
// iodepth buffers of the largest block size per job process) and each verify job's log of
// the writes it will read back. A run past the limit is refused with the job and option that asked for it,
// the limit, and the option that raises it (guplab fio --mem-limit=SIZE).
// Threading: stateless functions; safe from any thread.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lab/fio/job_file.h"
#include "lab/fio/targets.h"

namespace guplab::fio {

/** The largest model RAM a fio run may boot (the model's RAM arena limit). */
inline constexpr uint64_t kMaxMachineRam = 64ull << 30;

/** host_ram_bytes() - the host's physical RAM. */
uint64_t host_ram_bytes();

/** default_mem_limit() - what a run may take unless --mem-limit says otherwise: half the host's RAM. */
uint64_t default_mem_limit();

/** sat_add(), sat_mul() - sums and products that stop at UINT64_MAX instead of wrapping. */
uint64_t sat_add(uint64_t a, uint64_t b);
uint64_t sat_mul(uint64_t a, uint64_t b);

/** ramdisk_bytes() - host bytes the embedded ramdisk of @spec ("ram0,size=...") takes; 0 for
 *  a uring: target (the host file is not held in memory). Saturates. */
uint64_t ramdisk_bytes(const std::string& spec);

/** verify_log_bytes() - host bytes @job's verify log takes: one entry per write it will read
 *  back (verify with do_verify on a job that writes), at most size / smallest bs x loops. */
uint64_t verify_log_bytes(const JobSpec& job);

/**
 * check_mem_budget() - refuse the run when @machine_ram is past kMaxMachineRam or when the
 * ramdisks of @plans and @machine_ram together exceed @limit. @limit_given: the user set
 * --mem-limit (the message then says so). @device: the --device spec, or empty for the
 * ramdisks of the jobs' files. @source names the job file.
 * Returns true, or an Error naming the job and option that asked for the memory.
 */
Result<bool> check_mem_budget(const std::vector<JobSpec>& jobs, const std::vector<TargetPlan>& plans,
                              uint64_t machine_ram, uint64_t limit, bool limit_given, const std::string& device,
                              const std::string& source);

}  // namespace guplab::fio
