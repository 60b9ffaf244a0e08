// vma.h - struct vm_area_struct, vm flags, vm_operations_struct and struct vm_fault.
//
// A vma describes one mapped range [vm_start, vm_end) of an mm: its permissions
// (vm_flags), the pte protection derived from them (vm_page_prot), its backing (anon
// via anon_vma, or a file's address_space with vm_pgoff), and its fault handler.
//
// Threading: the vma tree and every vma field are guarded by mm->mmap_lock (read to
// look, write to change). anon_vma is set once, under mmap_lock held for read plus the
// mm's page_table_lock.
#pragma once
#include <cstdint>

#include "base/flags.h"
#include "mm/mm_types.h"
#include "mm/pgtable.h"

namespace guplab {

struct mm_struct;
struct anon_vma;
struct vm_area_struct;
struct file;
struct userfaultfd_ctx;

enum class vm_flags_t : uint64_t {
  VM_NONE = 0,
  VM_READ = 1ull << 0,
  VM_WRITE = 1ull << 1,
  VM_EXEC = 1ull << 2,
  VM_SHARED = 1ull << 3,
  VM_MAYREAD = 1ull << 4,
  VM_MAYWRITE = 1ull << 5,
  VM_MAYEXEC = 1ull << 6,
  VM_MAYSHARE = 1ull << 7,
  VM_GROWSDOWN = 1ull << 8,
  VM_UFFD_MISSING = 1ull << 9,
  VM_PFNMAP = 1ull << 10,
  VM_UFFD_WP = 1ull << 12,
  VM_LOCKED = 1ull << 13,
  VM_IO = 1ull << 14,
  VM_DONTCOPY = 1ull << 17,
  VM_DONTEXPAND = 1ull << 18,
  VM_ACCOUNT = 1ull << 20,
  VM_NORESERVE = 1ull << 21,
  VM_HUGETLB = 1ull << 22,
  VM_WIPEONFORK = 1ull << 25,
  VM_DONTDUMP = 1ull << 26,
  VM_HUGEPAGE = 1ull << 29,
  VM_NOHUGEPAGE = 1ull << 30,
  VM_MIXEDMAP = 1ull << 28,
  VM_UFFD_MINOR = 1ull << 37,  // x86-64's VM_HIGH_ARCH_5 (CONFIG_HAVE_ARCH_USERFAULTFD_MINOR)
};
GUPLAB_ENUM_FLAGS(vm_flags_t)
using enum vm_flags_t;

/** vm_fault_t - what a fault handler reports (a bit set, as the kernel's). */
enum class vm_fault_t : uint32_t {
  VM_FAULT_NONE = 0,
  VM_FAULT_OOM = 1u << 0,
  VM_FAULT_SIGBUS = 1u << 1,
  VM_FAULT_MAJOR = 1u << 2,
  VM_FAULT_HWPOISON = 1u << 4,
  VM_FAULT_SIGSEGV = 1u << 6,
  VM_FAULT_NOPAGE = 1u << 8,
  VM_FAULT_LOCKED = 1u << 9,
  VM_FAULT_RETRY = 1u << 10,  // mmap_lock has been dropped; the caller must retry
  VM_FAULT_FALLBACK = 1u << 11,
  VM_FAULT_DONE_COW = 1u << 12,
  VM_FAULT_COMPLETED = 1u << 14,  // handled and mmap_lock dropped, no retry needed
  VM_FAULT_ERROR = (1u << 0) | (1u << 1) | (1u << 4) | (1u << 6),
};
GUPLAB_ENUM_FLAGS(vm_fault_t)
using enum vm_fault_t;

/** fault_flag - how a fault was raised and what the handler may do (FAULT_FLAG_*). */
enum class fault_flag : uint32_t {
  FAULT_FLAG_NONE = 0,
  FAULT_FLAG_WRITE = 1u << 0,
  FAULT_FLAG_MKWRITE = 1u << 1,
  FAULT_FLAG_ALLOW_RETRY = 1u << 2,  // the handler may drop mmap_lock and return VM_FAULT_RETRY
  FAULT_FLAG_RETRY_NOWAIT = 1u << 3, // ...but must not wait for I/O after dropping it
  FAULT_FLAG_KILLABLE = 1u << 4,
  FAULT_FLAG_TRIED = 1u << 5,        // this is the retry
  FAULT_FLAG_USER = 1u << 6,
  FAULT_FLAG_REMOTE = 1u << 7,       // faulting another process's mm (GUP remote)
  FAULT_FLAG_INSTRUCTION = 1u << 8,
  FAULT_FLAG_INTERRUPTIBLE = 1u << 9,
  FAULT_FLAG_UNSHARE = 1u << 10,     // break COW for a read pin (FOLL_PIN on a shared anon page)
};
GUPLAB_ENUM_FLAGS(fault_flag)
using enum fault_flag;

/** struct vm_fault - one fault being handled. */
struct vm_fault {
  vm_area_struct* vma = nullptr;
  fault_flag flags = FAULT_FLAG_NONE;
  unsigned long address = 0;  // faulting address, page aligned
  unsigned long real_address = 0;
  pgoff_t pgoff = 0;           // logical page offset in the vma's backing
  pgtable_slot* pmd = nullptr;
  pgtable_slot* pte = nullptr;  // when the fault handler has it
  pte_t orig_pte{0};
  pmd_t orig_pmd{0};            // the huge PMD a huge-page fault started from
  page* cow_page = nullptr;
  page* page_ = nullptr;  // returned by ->fault, locked or with a reference
};

/** vm_operations_struct - what a mapping's backing does on faults. */
struct vm_operations_struct {
  const char* name = "";
  void (*open)(vm_area_struct* vma) = nullptr;
  void (*close)(vm_area_struct* vma) = nullptr;
  /** fault() - bring in the page for vmf->pgoff into vmf->page_ (with a reference). */
  vm_fault_t (*fault)(vm_fault* vmf) = nullptr;
  /** page_mkwrite() - a write to a clean shared file page: make it writable/dirty. */
  vm_fault_t (*page_mkwrite)(vm_fault* vmf) = nullptr;
};

struct vm_area_struct {
  unsigned long vm_start = 0;
  unsigned long vm_end = 0;  // one past the end
  mm_struct* vm_mm = nullptr;
  pgprot_t vm_page_prot{0};
  vm_flags_t vm_flags = VM_NONE;
  pgoff_t vm_pgoff = 0;  // offset of vm_start in the file or anon space, in pages
  anon_vma* anon_vma_ = nullptr;
  const vm_operations_struct* vm_ops = nullptr;
  file* vm_file = nullptr;
  void* vm_private_data = nullptr;
  userfaultfd_ctx* vm_userfaultfd_ctx = nullptr;  // the registration's context (with VM_UFFD_*)
  list_head anon_vma_chain;  // this vma's membership in anon_vmas (rmap)
  list_head shared;          // this vma's place in its file's i_mmap list (rmap)
};

inline bool vma_is_anonymous(const vm_area_struct* vma) { return vma->vm_ops == nullptr; }
inline unsigned long vma_pages(const vm_area_struct* vma) { return (vma->vm_end - vma->vm_start) >> PAGE_SHIFT; }
/** is_cow_mapping() - private and may be written: writes copy. */
inline bool is_cow_mapping(vm_flags_t f) { return (f & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE; }
/** vm_get_page_prot() - pte bits for a vma with @f (private writable vmas map read-only until COW). */
pgprot_t vm_get_page_prot(vm_flags_t f);
/** linear_page_index() - the backing's page offset of @address in @vma. */
inline pgoff_t linear_page_index(const vm_area_struct* vma, unsigned long address) {
  return ((address - vma->vm_start) >> PAGE_SHIFT) + vma->vm_pgoff;
}

}  // namespace guplab
