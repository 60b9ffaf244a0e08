// file.h - what a task does with files: open, read, write, fsync, truncate, unlink,
// mmap, by struct file (filp_open(), kernel_read(), ...) or by file descriptor in the
// task's table (current()->files: ksys_open(), ksys_read(), ...), as fs/open.c,
// fs/read_write.c and fs/file.c. Buffers are kernel (host) memory; mmap goes through
// vm_mmap() with the file.
//
// Paths are "<mountpoint>/<name>" (fs/super.h). Open flags are the host's O_* (O_RDONLY,
// O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND); others are ignored.
// Errors are negative errnos: -ENOENT, -EEXIST, -EISDIR, -EBADF (no such fd, or the
// file not open for that), -EINVAL, -ENAMETOOLONG, -ENOSPC, -EIO, -EMFILE.
//
// Threading: any task of the machine. A file is shared by reference (get_file/fput);
// a files_struct by its own count (a task's threads may share one). Concurrent reads
// and writes through one fd each see a consistent f_pos but are not atomic together.
#pragma once
#include <string>
#include <vector>

#include "base/atomic.h"
#include "base/spinlock.h"
#include "fs/fs.h"

namespace guplab {

struct mm_struct;

// ---- by struct file ----------------------------------------------------------------

/** filp_open() - open (or with O_CREAT create) @path. Returns the file or an ERR_PTR. */
file* filp_open(const char* path, int flags, umode_t mode);
/** filp_close() - drop the opener's reference. Returns 0. */
int filp_close(file* filp);
/** kernel_read() - read up to @count bytes at *@pos; advances it. Returns bytes or -errno. */
ssize_t kernel_read(file* filp, void* buf, size_t count, loff_t* pos);
/** kernel_write() - buffered write of @count bytes at *@pos; advances it. */
ssize_t kernel_write(file* filp, const void* buf, size_t count, loff_t* pos);
/** vfs_fsync_range() / vfs_fsync() - make [@start, @end] (all) durable: 0, -EIO, -ENOSPC. */
int vfs_fsync_range(file* filp, loff_t start, loff_t end, int datasync);
int vfs_fsync(file* filp, int datasync);
/** vfs_truncate() - ftruncate(): set the size to @length (shrink or extend). */
int vfs_truncate(file* filp, loff_t length);
/** vfs_unlink() - remove @path; the data goes with the last reference to the file. */
int vfs_unlink(const char* path);
/** vfs_size() - the file's size. */
loff_t vfs_size(file* filp);
/** iterate_dir() - the names in the directory at mountpoint @path. */
int iterate_dir(const char* path, std::vector<std::string>* names);
/** file_mmap() - vm_mmap() of @filp into @mm (MAP_SHARED or MAP_PRIVATE). Address or -errno. */
long file_mmap(mm_struct* mm, file* filp, unsigned long addr, unsigned long len, int prot, int flags, pgoff_t pgoff);

// ---- by file descriptor -------------------------------------------------------------

/** files_struct - a task's open files (task_struct::files). */
struct files_struct {
  files_struct();
  atomic_t count;
  spinlock_t file_lock;
  std::vector<file*> fdt GUARDED_BY(file_lock);  // nullptr: free descriptor
};

/** files_alloc() - an empty table (one reference); set it as current()->files. */
files_struct* files_alloc();
/** get_files_struct() - share @files (another task's threads). */
files_struct* get_files_struct(files_struct* files);
/** put_files_struct() - drop a reference; the last closes every file. */
void put_files_struct(files_struct* files);

/** fget() - the file of @fd in current's table, with a reference; nullptr if none. */
file* fget(int fd);
/** ksys_open() - open @path into the lowest free descriptor. Returns it or -errno. */
int ksys_open(const char* path, int flags, umode_t mode);
int ksys_close(int fd);
ssize_t ksys_read(int fd, void* buf, size_t count);
ssize_t ksys_write(int fd, const void* buf, size_t count);
ssize_t ksys_pread64(int fd, void* buf, size_t count, loff_t pos);
ssize_t ksys_pwrite64(int fd, const void* buf, size_t count, loff_t pos);
/** ksys_lseek() - SEEK_SET, SEEK_CUR or SEEK_END. Returns the new position or -EINVAL. */
loff_t ksys_lseek(int fd, loff_t offset, int whence);
int ksys_fsync(int fd);
int ksys_fdatasync(int fd);
int ksys_ftruncate(int fd, loff_t length);
int ksys_unlink(const char* path);
/** ksys_mmap_pgoff() - mmap(2) of @fd (or anonymous with MAP_ANONYMOUS) in current's mm. */
long ksys_mmap_pgoff(unsigned long addr, unsigned long len, int prot, int flags, int fd, pgoff_t pgoff);

}  // namespace guplab
