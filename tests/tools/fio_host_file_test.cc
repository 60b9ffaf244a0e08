// fio_host_file_test.cc - `guplab fio --device=uring:PATH` on a user's own host file: the job
// file is never the device, bytes that were there are never overwritten by the layout, and a
// refused run (exit 2) leaves an existing file exactly as it was; a file the user may only read
// can be read.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tools/tool_runner.h"

namespace {

namespace fs = std::filesystem;
using guplab::testing::Ran;
using guplab::testing::run_guplab;
using guplab::testing::slurp;

/** The test binary's directory: a real filesystem (tmpfs has no O_DIRECT). */
class FioHostFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::read_symlink("/proc/self/exe").parent_path() / ("fio-host-file-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path put(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  Ran run(const std::string& args) { return run_guplab("fio " + args, dir_); }
  /** skip_why() - why @r could not open a uring device here at all ("" if it could). */
  static std::string skip_why(const Ran& r) {
    for (const char* why : {"refuses O_DIRECT", "io_uring_queue_init", "io_uring is disabled"})
      if (r.err.find(why) != std::string::npos) return r.err;
    return {};
  }

  fs::path dir_;
};

/** letters() - @n bytes of a-z, repeating: what the user's file holds. */
std::string letters(size_t n) {
  std::string s(n, ' ');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

/** first_difference() - where @now first differs from @was within @was's length (npos: nowhere). */
size_t first_difference(const std::string& now, const std::string& was) {
  for (size_t i = 0; i < was.size(); i++)
    if (i >= now.size() || now[i] != was[i]) return i;
  return std::string::npos;
}

TEST_F(FioHostFile, TheJobFileIsRefusedAsTheDevice) {
  for (const char* rw : {"read", "write"}) {
    const std::string text = std::string("[j]\ndirect=1\nbs=4k\nsize=1m\nrw=") + rw + "\n";
    put("self.fio", text);
    Ran r = run("--device=uring:self.fio self.fio");
    EXPECT_EQ(r.status, 2) << rw << ": " << r.err;
    EXPECT_NE(r.err.find("self.fio is the job file itself"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "nothing ran";
    EXPECT_EQ(slurp(dir_ / "self.fio"), text) << rw << ": the job file is untouched";

    // The same file under another name is the same file.
    fs::remove(dir_ / "link.dat");
    fs::create_hard_link(dir_ / "self.fio", dir_ / "link.dat");
    r = run("--device=uring:link.dat self.fio");
    EXPECT_EQ(r.status, 2) << rw << ": " << r.err;
    EXPECT_NE(r.err.find("link.dat is the job file itself"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(dir_ / "self.fio"), text) << rw;
  }
}

}  // namespace

TEST_F(FioHostFile, LayingOutAReadJobKeepsTheBytesThereWere) {
  // 5000 bytes: not a whole number of 512-byte (or 4 KiB) blocks, so the layout starts mid-block.
  const std::string old = letters(5000);
  put("keep.dat", old);
  put("r.fio", "[r]\ndirect=1\nbs=4k\nsize=1m\nrw=read\n");
  const Ran r = run("--device=uring:keep.dat r.fio");
  if (std::string why = skip_why(r); !why.empty()) GTEST_SKIP() << "no O_DIRECT io_uring here: " << why;
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string now = slurp(dir_ / "keep.dat");
  ASSERT_EQ(now.size(), 1u << 20) << "grown to the job's size";
  EXPECT_EQ(first_difference(now, old), std::string::npos) << "the file's own bytes are intact";
  EXPECT_EQ(now.find_first_not_of('\0', old.size()), std::string::npos) << "the grown part reads as zeros";
}

TEST_F(FioHostFile, ARefusedRunLeavesAnExistingFileAsItWas) {
  const std::string old = letters(5000);
  for (const char* rw : {"read", "write"}) {
    put("keep.dat", old);
    // offset=1 is refused only once the device is open (it needs the host's logical block
    // size), by when the file has been grown to the job's offset + size.
    put("off.fio", std::string("[j]\ndirect=1\nbs=4k\nsize=1m\noffset=1\nrw=") + rw + "\n");
    const Ran r = run("--device=uring:keep.dat off.fio");
    if (std::string why = skip_why(r); !why.empty()) GTEST_SKIP() << "no O_DIRECT io_uring here: " << why;
    EXPECT_EQ(r.status, 2) << rw << ": " << r.err;
    EXPECT_NE(r.err.find("offset=1 is not a multiple"), std::string::npos) << r.err;
    const std::string now = slurp(dir_ / "keep.dat");
    EXPECT_EQ(now.size(), old.size()) << rw << ": the size it had";
    EXPECT_EQ(first_difference(now, old), std::string::npos) << rw << ": the bytes it had";
  }
}

/**
 * set_immutable() - set or clear @p's immutable attribute (chattr +i): the only way to make a
 * file unwritable for root. Returns false if the filesystem or the process cannot.
 */
bool set_immutable(const fs::path& p, bool on) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

TEST_F(FioHostFile, AFileTheUserMayOnlyReadIsReadByAReadJob) {
  const std::string old = letters(8192);
  const fs::path p = put("ro.dat", old);
  fs::permissions(p, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  // Root may write a mode 0444 file: make it immutable too, where the host lets us.
  const bool unwritable = ::geteuid() != 0 || set_immutable(p, true);
  put("r.fio", "[r]\ndirect=1\nbs=4k\nsize=8k\nrw=randread\n");
  put("w.fio", "[w]\ndirect=1\nbs=4k\nsize=8k\nrw=write\n");
  const Ran r = run("--device=uring:ro.dat r.fio");
  const Ran w = run("--device=uring:ro.dat w.fio");
  if (::geteuid() == 0) set_immutable(p, false);  // before anything can fail: TearDown removes it
  if (std::string why = skip_why(r); !why.empty()) GTEST_SKIP() << "no O_DIRECT io_uring here: " << why;
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("uring:ro.dat: uring O_DIRECT 0 MiB, lbs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", read-only;"), std::string::npos) << "opened O_RDONLY: " << r.out;
  if (unwritable) {
    // A write job still needs O_RDWR, and is refused as before.
    EXPECT_EQ(w.status, 2) << w.err;
    EXPECT_NE(w.err.find("open(O_RDWR|O_DIRECT)"), std::string::npos) << w.err;
  }
  EXPECT_EQ(slurp(p), old);
}

TEST_F(FioHostFile, AReadJobThatGrowsTheFileOpensItReadWrite) {
  put("small.dat", letters(4096));
  put("r.fio", "[r]\ndirect=1\nbs=4k\nsize=8k\nrw=read\n");
  const Ran r = run("--device=uring:small.dat r.fio");
  if (std::string why = skip_why(r); !why.empty()) GTEST_SKIP() << "no O_DIRECT io_uring here: " << why;
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("read-only"), std::string::npos) << "laid out, so read-write: " << r.out;
  EXPECT_EQ(fs::file_size(dir_ / "small.dat"), 8192u);
}
