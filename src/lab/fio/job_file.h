// job_file.h - fio job files for guplab's fio path: the ini format, the options guplab runs,
// [global] inheritance, command-line overrides, numjobs expansion and validation.
//
// Format (as fio 3.33 reads it): "[name]" starts a job section, "[global]" a section whose
// options every later job inherits (a job's own options win); "key=value" or a bare boolean
// "key"; whole-line and trailing comments start with ';' or '#'; blank lines and surrounding
// whitespace are ignored. Size values follow fio's units (units.h), runtime, ramp_time and
// startdelay are time values. bssplit is "size/percent:..." (one list for all directions;
// entries without a percentage share the rest), percentile_list "p:p:..." (at most 20),
// filename one name or several separated by ':' (nrfiles is then their number), verify one of
// crc32c, crc32c-intel, md5, meta, none/0; file_service_type only roundrobin.
//
// Every problem is an error naming the place: "seed000.fio:7: unknown option 'blocksise'"; text
// from the file that an error quotes is cut at 64 bytes, other than printable ASCII as \xNN;
// no option is ignored silently. ioengine is one of sync, psync, vsync, pvsync, pvsync2,
// libaio, io_uring (any other, even one fio has, is refused by name). direct=0
// parses, but run_fio() refuses it (guplab runs O_DIRECT only). Overrides from the command line ("--bs=8k") apply to every job
// and win over the file.
//
// Threading: stateless functions over values; safe from any thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/bug.h"
#include "lab/result.h"

namespace guplab::fio {

// Errors are lab/'s Result<> (lab/result.h).
using guplab::Error;
using guplab::Result;

/** fio's rw= modes guplab runs. "readwrite" is read as rw. */
enum class RwMode : uint8_t { read, write, randread, randwrite, rw, randrw };
/** fio's own name of the mode, as its reports print it ("rw" for readwrite). */
const char* to_string(RwMode m);
bool is_random(RwMode m);
bool does_read(RwMode m);
bool does_write(RwMode m);

/** One option as written. @key is canonical ("bs" for blocksize, "rw" for readwrite); @value
 *  is trimmed, empty for a bare boolean; @line is 1-based, 0 for the command line. */
struct Option {
  std::string key;
  std::string value;
  int line = 0;
};

/** fio's verify= checksums guplab runs (crc32c-intel is read as crc32c). */
enum class VerifyType : uint8_t { none, crc32c, md5, meta };
const char* to_string(VerifyType v);

/** One bssplit= entry: I/Os of @bs bytes make @percent of the job's I/Os. */
struct BsSplit {
  uint64_t bs = 0;
  unsigned percent = 0;
};

/** One job to run: every option resolved. Defaults are fio's. */
struct JobSpec {
  std::string name;  // the section name, or name=
  std::string filename;  // as written: one name or several separated by ':'
  std::string directory;  // prefixed to every file name (filename= or fio's default names)
  unsigned nrfiles = 1;   // files of the job; filename= with N names makes it N
  uint64_t filesize = 0;  // bytes per file; 0: size / nrfiles
  uint64_t size = 0;    // bytes; 0 only for time_based jobs with a runtime
  uint64_t offset = 0;  // bytes
  uint64_t bs = 4096;   // bytes, a positive multiple of 512
  RwMode rw = RwMode::read;
  unsigned rwmixread = 50;  // percent of reads in rw/randrw
  unsigned iodepth = 1;
  unsigned numjobs = 1;
  bool direct = false;
  std::string ioengine = "psync";  // sync, psync, vsync, pvsync, pvsync2 (synchronous: one I/O at
                                   // a time), libaio or io_uring (up to iodepth); printed as given,
                                   // guplab's own O_DIRECT path runs for each
  std::chrono::microseconds runtime{0};  // 0: no time limit
  bool time_based = false;
  bool group_reporting = false;
  bool thread = false;
  bool norandommap = false;
  bool randrepeat = true;
  bool hipri = false;            // polled completion, spinning (fs/direct-io.h's IOCB_HIPRI)
  unsigned loops = 1;
  std::vector<BsSplit> bssplit;  // empty: every I/O is bs bytes; else percentages summing to 100
  VerifyType verify = VerifyType::none;
  bool verify_fatal = false;
  bool do_verify = true;
  std::chrono::microseconds ramp_time{0};
  std::chrono::microseconds startdelay{0};
  bool stonewall = false;
  unsigned iodepth_batch_submit = 1;        // submit once this many slots are free (0 or > iodepth: iodepth)
  unsigned iodepth_batch_complete_min = 1;  // reap waits for at least this many (0: does not wait)
  unsigned iodepth_batch_complete_max = 0;  // reap at most this many (0 or below the min: the min)
  uint64_t rate_iops = 0;                   // 0: unlimited
  unsigned fsync = 0;                       // an fsync after every N writes; 0: never
  std::vector<double> percentile_list;      // empty: fio's default list
  uint64_t verify_interval = 0;             // 0 or min_bs(): a verify header every min_bs() bytes
  unsigned clone = 0;            // which of the numjobs copies this is, 0-based
  int line = 0;                  // where the job's section starts
  std::vector<Option> options;   // the job's own options then overrides (JSON "job options")

  /** min_bs(), max_bs() - the smallest and largest I/O the job issues (bs without bssplit). */
  uint64_t min_bs() const;
  uint64_t max_bs() const;
  /** files() - the job's file names, directory/ prefixed: filename='s ':'-separated names, or
   *  fio's default "<name>.<clone>.<n>" for n below nrfiles. */
  std::vector<std::string> files() const;
  /** nr_files() - files().size(), without making the names. */
  uint64_t nr_files() const;
  /** file_bytes() - bytes each file's region holds: filesize, else size / nr_files(). */
  uint64_t file_bytes() const;
};

/** A host file's identity (st_dev, st_ino): the same file under any path or link. */
struct FileId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const FileId&) const = default;
};

/** A parsed job file, before resolution. */
struct JobFile {
  struct Section {
    std::string name;
    int line = 0;
    std::vector<Option> options;
    size_t globals_visible = 0;  // how many global_options preceded this section
  };
  std::string source;                 // the name errors use, e.g. "seed000.fio"
  std::vector<Option> global_options;  // every [global] option, in file order
  std::vector<Section> jobs;
  std::vector<Option> overrides;  // from the command line; win over the file
  std::vector<FileId> read_from;  // the host file load_job_file() read (none for parse_job_text()):
                                  // a run must never write it
};

/** parse_job_text() - parse @text, naming it @source in errors. Checks every option name and
 *  value; cross-option rules wait for resolve_jobs(). */
Result<JobFile> parse_job_text(std::string_view text, std::string source);
/** load_job_file() - read and parse @path, which must be a regular file of at most 1 MiB (a
 *  directory, device, FIFO or socket is refused without reading it); errors name @path as
 *  given. The result's read_from holds the file's identity. */
Result<JobFile> load_job_file(const std::string& path);
/** with_overrides() - @file with fio-style command-line options ("--bs=8k", "--direct")
 *  applied to all jobs. Errors name "command line". */
Result<JobFile> with_overrides(JobFile file, std::span<const std::string> args);
/** resolve_jobs() - one JobSpec per job process: globals, then the section, then overrides;
 *  numjobs=N gives N copies (clone 0..N-1) in place. Validates what needs several options. */
Result<std::vector<JobSpec>> resolve_jobs(const JobFile& file);

}  // namespace guplab::fio
