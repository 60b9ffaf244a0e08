// file.cc - ext4: file operations (read, buffered write, mmap, fsync).
#include <fcntl.h>

#include "base/errno.h"
#include "fs/ext4/ext4.h"
#include "fs/writeback.h"
#include "mm/filemap.h"

namespace guplab {

namespace {

const vm_operations_struct ext4_file_vm_ops = {
    .name = "ext4",
    .open = nullptr,
    .close = nullptr,
    .fault = filemap_fault,
    .page_mkwrite = ext4_page_mkwrite,
};

ssize_t ext4_file_read(file* filp, char* buf, size_t count, loff_t* pos) { return filemap_read(filp, buf, count, pos); }

ssize_t ext4_file_write(file* filp, const char* buf, size_t count, loff_t* pos) {
  inode* ino = file_inode(filp);
  inode_lock(ino);
  if (filp->f_flags & O_APPEND) *pos = i_size_read(ino);
  ssize_t n = generic_perform_write(filp, buf, count, *pos);
  if (n > 0) *pos += n;
  inode_unlock(ino);
  return n;
}

int ext4_file_mmap(file* filp, vm_area_struct* vma) {
  vma->vm_ops = &ext4_file_vm_ops;
  return 0;
}

/**
 * ext4_sync_file() - fsync(): the file's dirty pages written and waited for, then a
 * commit (which writes the data of every file with new blocks first, then metadata).
 */
int ext4_sync_file(file* filp, loff_t start, loff_t end, int datasync) {
  int err = file_write_and_wait_range(filp, start, end);
  int err2 = ext4_commit(file_inode(filp)->i_sb);
  return err ? err : err2;
}

}  // namespace

const file_operations ext4_file_fops = {
    .read = ext4_file_read,
    .write = ext4_file_write,
    .mmap = ext4_file_mmap,
    .open = nullptr,
    .release = nullptr,
    .fsync = ext4_sync_file,
};

}  // namespace guplab
