// open.cc - files: opening by path, read/write/fsync/truncate/unlink/mmap through
// struct file, and the per-task descriptor table.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "base/errno.h"
#include "base/task.h"
#include "fs/file.h"
#include "fs/super.h"
#include "fs/writeback.h"
#include "machine/machine.h"
#include "mm/mmap.h"

namespace guplab {

namespace {

constexpr size_t kMaxFds = 1024;

fmode_t mode_of(int flags) {
  switch (flags & O_ACCMODE) {
    case O_RDONLY: return FMODE_READ;
    case O_WRONLY: return FMODE_WRITE;
    default: return FMODE_READ | FMODE_WRITE;
  }
}

// The root directory of @sb, referenced.
inode* grab_root(super_block* sb) {
  ihold(sb->s_root);
  return sb->s_root;
}

}  // namespace

file* filp_open(const char* path, int flags, umode_t mode) {
  MountTable& mt = current_machine()->mounts();
  std::string name;
  super_block* sb = mt.grab_path(path, &name);
  if (!sb) return ERR_PTR<file>(-ENOENT);
  if (name.empty()) {
    mt.drop_super(sb);
    return ERR_PTR<file>(-EISDIR);
  }
  inode* dir = grab_root(sb);
  inode* ino = nullptr;
  int err = 0;
  inode_lock(dir);
  ino = dir->i_op->lookup(dir, name.c_str());
  if (ino && (flags & O_CREAT) && (flags & O_EXCL)) {
    iput(ino);
    ino = nullptr;
    err = -EEXIST;
  } else if (!ino) {
    if (flags & O_CREAT) err = dir->i_op->create(dir, name.c_str(), mode, &ino);
    else err = -ENOENT;
  }
  inode_unlock(dir);
  iput(dir);
  mt.drop_super(sb);
  if (err) return ERR_PTR<file>(err);
  const fmode_t fmode = mode_of(flags);
  if ((flags & O_TRUNC) && (fmode & FMODE_WRITE) && ino->i_op->setattr) {
    iattr a;
    a.ia_valid = iattr::ATTR_SIZE;
    a.ia_size = 0;
    inode_lock(ino);
    err = ino->i_op->setattr(ino, &a);
    inode_unlock(ino);
    if (err) {
      iput(ino);
      return ERR_PTR<file>(err);
    }
  }
  auto* f = new file;
  atomic_set(&f->f_count, 1);
  spin_lock_init(&f->f_pos_lock, "f_pos_lock");
  f->f_flags = static_cast<unsigned>(flags);
  f->f_mode = fmode;
  f->f_inode = ino;  // the lookup's reference
  f->f_mapping = ino->i_mapping;
  f->f_op = ino->i_fop;
  f->f_path = path;
  if (f->f_op && f->f_op->open && (err = f->f_op->open(ino, f))) {
    fput(f);
    return ERR_PTR<file>(err);
  }
  return f;
}

int filp_close(file* filp) {
  fput(filp);
  return 0;
}

ssize_t kernel_read(file* filp, void* buf, size_t count, loff_t* pos) {
  if (!(filp->f_mode & FMODE_READ) || !filp->f_op->read) return -EBADF;
  if (*pos < 0) return -EINVAL;
  return filp->f_op->read(filp, static_cast<char*>(buf), count, pos);
}

ssize_t kernel_write(file* filp, const void* buf, size_t count, loff_t* pos) {
  if (!(filp->f_mode & FMODE_WRITE) || !filp->f_op->write) return -EBADF;
  if (*pos < 0) return -EINVAL;
  return filp->f_op->write(filp, static_cast<const char*>(buf), count, pos);
}

int vfs_fsync_range(file* filp, loff_t start, loff_t end, int datasync) {
  if (!filp->f_op->fsync) return -EINVAL;
  return filp->f_op->fsync(filp, start, end, datasync);
}

int vfs_fsync(file* filp, int datasync) { return vfs_fsync_range(filp, 0, LLONG_MAX, datasync); }

int vfs_truncate(file* filp, loff_t length) {
  if (!(filp->f_mode & FMODE_WRITE)) return -EBADF;
  if (length < 0) return -EINVAL;
  inode* ino = file_inode(filp);
  if (!ino->i_op->setattr) return -EINVAL;
  iattr a;
  a.ia_valid = iattr::ATTR_SIZE;
  a.ia_size = length;
  inode_lock(ino);
  int err = ino->i_op->setattr(ino, &a);
  inode_unlock(ino);
  return err;
}

loff_t vfs_size(file* filp) { return i_size_read(file_inode(filp)); }

int vfs_unlink(const char* path) {
  MountTable& mt = current_machine()->mounts();
  std::string name;
  super_block* sb = mt.grab_path(path, &name);
  if (!sb) return -ENOENT;
  if (name.empty()) {
    mt.drop_super(sb);
    return -EISDIR;
  }
  inode* dir = grab_root(sb);
  inode_lock(dir);
  int err = dir->i_op->unlink(dir, name.c_str());
  inode_unlock(dir);
  iput(dir);
  mt.drop_super(sb);
  return err;
}

int iterate_dir(const char* path, std::vector<std::string>* names) {
  MountTable& mt = current_machine()->mounts();
  std::string name;
  super_block* sb = mt.grab_path(path, &name);
  if (!sb) return -ENOENT;
  if (!name.empty()) {
    mt.drop_super(sb);
    return -ENOTDIR;
  }
  inode* dir = grab_root(sb);
  inode_lock_shared(dir);
  int err = dir->i_op->iterate(
      dir, [](void* arg, const char* n, unsigned long) { static_cast<std::vector<std::string>*>(arg)->push_back(n); },
      names);
  inode_unlock_shared(dir);
  iput(dir);
  mt.drop_super(sb);
  return err;
}

long file_mmap(mm_struct* mm, file* filp, unsigned long addr, unsigned long len, int prot, int flags, pgoff_t pgoff) {
  return vm_mmap(mm, addr, len, prot, flags & ~MAP_ANONYMOUS, filp, pgoff);
}

// ---- descriptors ------------------------------------------------------------------------

files_struct::files_struct() {
  atomic_set(&count, 1);
  spin_lock_init(&file_lock, "files->file_lock");
}

files_struct* files_alloc() { return new files_struct; }

files_struct* get_files_struct(files_struct* files) {
  atomic_inc(&files->count);
  return files;
}

void put_files_struct(files_struct* files) {
  if (!atomic_dec_and_test(&files->count)) return;
  std::vector<file*> open;
  {
    SpinGuard g(&files->file_lock);
    open.swap(files->fdt);
  }
  for (file* f : open)
    if (f) fput(f);
  delete files;
}

namespace {
files_struct* current_files() {
  task_struct* t = current();
  return t ? t->files : nullptr;
}
}  // namespace

file* fget(int fd) {
  files_struct* files = current_files();
  if (!files || fd < 0) return nullptr;
  SpinGuard g(&files->file_lock);
  if (static_cast<size_t>(fd) >= files->fdt.size() || !files->fdt[static_cast<size_t>(fd)]) return nullptr;
  return get_file(files->fdt[static_cast<size_t>(fd)]);
}

int ksys_open(const char* path, int flags, umode_t mode) {
  files_struct* files = current_files();
  if (!files) return -EBADF;
  file* f = filp_open(path, flags, mode);
  if (IS_ERR(f)) return static_cast<int>(PTR_ERR(f));
  {
    SpinGuard g(&files->file_lock);
    for (size_t fd = 0; fd < files->fdt.size(); fd++)
      if (!files->fdt[fd]) {
        files->fdt[fd] = f;
        return static_cast<int>(fd);
      }
    if (files->fdt.size() < kMaxFds) {
      files->fdt.push_back(f);
      return static_cast<int>(files->fdt.size() - 1);
    }
  }
  fput(f);
  return -EMFILE;
}

int ksys_close(int fd) {
  files_struct* files = current_files();
  if (!files || fd < 0) return -EBADF;
  file* f = nullptr;
  {
    SpinGuard g(&files->file_lock);
    if (static_cast<size_t>(fd) < files->fdt.size()) std::swap(f, files->fdt[static_cast<size_t>(fd)]);
  }
  if (!f) return -EBADF;
  fput(f);
  return 0;
}

namespace {
loff_t pos_get(file* f) {
  SpinGuard g(&f->f_pos_lock);
  return f->f_pos;
}
void pos_set(file* f, loff_t pos) {
  SpinGuard g(&f->f_pos_lock);
  f->f_pos = pos;
}
}  // namespace

ssize_t ksys_read(int fd, void* buf, size_t count) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  loff_t pos = pos_get(f);
  ssize_t n = kernel_read(f, buf, count, &pos);
  if (n >= 0) pos_set(f, pos);
  fput(f);
  return n;
}

ssize_t ksys_write(int fd, const void* buf, size_t count) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  loff_t pos = pos_get(f);
  ssize_t n = kernel_write(f, buf, count, &pos);
  if (n >= 0) pos_set(f, pos);
  fput(f);
  return n;
}

ssize_t ksys_pread64(int fd, void* buf, size_t count, loff_t pos) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  ssize_t n = kernel_read(f, buf, count, &pos);
  fput(f);
  return n;
}

ssize_t ksys_pwrite64(int fd, const void* buf, size_t count, loff_t pos) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  ssize_t n = (f->f_flags & O_APPEND) ? -EINVAL : kernel_write(f, buf, count, &pos);
  fput(f);
  return n;
}

loff_t ksys_lseek(int fd, loff_t offset, int whence) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  loff_t base = 0;
  if (whence == SEEK_CUR) base = pos_get(f);
  else if (whence == SEEK_END) base = vfs_size(f);
  else if (whence != SEEK_SET) base = -1;
  loff_t pos = base < 0 ? -1 : base + offset;
  if (pos >= 0) pos_set(f, pos);
  fput(f);
  return pos >= 0 ? pos : -EINVAL;
}

int ksys_fsync(int fd) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  int err = vfs_fsync(f, 0);
  fput(f);
  return err;
}

int ksys_fdatasync(int fd) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  int err = vfs_fsync(f, 1);
  fput(f);
  return err;
}

int ksys_ftruncate(int fd, loff_t length) {
  file* f = fget(fd);
  if (!f) return -EBADF;
  int err = vfs_truncate(f, length);
  fput(f);
  return err;
}

int ksys_unlink(const char* path) { return vfs_unlink(path); }

long ksys_mmap_pgoff(unsigned long addr, unsigned long len, int prot, int flags, int fd, pgoff_t pgoff) {
  task_struct* t = current();
  if (!t || !t->mm) return -EINVAL;
  if (flags & MAP_ANONYMOUS) return vm_mmap(t->mm, addr, len, prot, flags, nullptr, pgoff);
  file* f = fget(fd);
  if (!f) return -EBADF;
  long ret = vm_mmap(t->mm, addr, len, prot, flags, f, pgoff);
  fput(f);
  return ret;
}

}  // namespace guplab
