// model_sys.h - the model side of the conformance cases: ConformSys on a fresh Machine
// booted with the chosen pin design (and --cow-reuse rule), THP on MADV_HUGEPAGE ranges,
// a 2 MiB hugetlb pool of 4 pages, and upstream's refusal of long-term R/W pins of
// disk-file pages (MachineConfig::refuse_longterm_file_pins).
//
// Processes are mm_structs: the calling thread is the machine's task and takes each
// process's mm as current->mm for the calls that act on "current" (GUP-fast, O_DIRECT).
// Files: memfd is a shmem object (the one behind MAP_SHARED|MAP_ANONYMOUS), tmpfile and
// local tmpfile are files on an ext4 filesystem on a ramdisk, mounted on first use.
// vmsplice() is a pipe of up to 16 page references taken with get_user_pages_fast()
// (FOLL_GET, as iov_iter_get_pages2() does); an io_uring fixed buffer is
// pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM); gup_test's long-term pin is
// pin_user_pages[_fast](FOLL_LONGTERM [| FOLL_WRITE]). What the model lacks (mremap,
// MADV_COLLAPSE, the huge zero page) lacks() names.
//
// Threading: construct, use and destroy on one host thread (it becomes the machine's
// task for the object's lifetime). The racing and userfaultfd calls spawn model tasks
// and join them before returning.
#pragma once
#include <memory>
#include <string>

#include "lab/conform/sys.h"
#include "machine/config.h"

namespace guplab::conform {

/** ModelSide - what to boot: the design and the COW reuse rule. */
struct ModelSide {
  PinDesign design = PinDesign::folio_pincount;
  CowReuse cow_reuse = CowReuse::refcount;
};

/** ModelConformSys - ConformSys plus the machine's own verdict once the case is over. */
class ModelConformSys : public ConformSys {
 public:
  /**
   * finish() - release everything the case left (pins, pipes, files, processes),
   * unmount, and say what went wrong in the machine: an oops, a WARN, pins acquired !=
   * released, pages not freed. "" if nothing. Call once, after the case.
   */
  virtual std::string finish() = 0;
};

std::unique_ptr<ModelConformSys> make_model_sys(const ModelSide& side);

/** side_name() - "folio_pincount", or "folio_pincount+cow-reuse=mapcount". */
std::string side_name(const ModelSide& side);

}  // namespace guplab::conform
