// fio_cmd.h - `guplab fio JOB.fio`: a fio job file run through the model's direct-I/O
// path (lab/fio/runner.h), printed as fio 3.33 prints it (normal or JSON), with the pin
// check of every run (nr_foll_pin_acquired == nr_foll_pin_released).
//
// Options are fio's where fio has them (--output-format, --eta, and job options such as
// --bs=8k applied to every job), plus --design and --device. Exit code: 0 when every job
// ran without error and the pins balance; 1 when a job failed, the pins do not balance or
// the model recorded an oops or WARN; 2 when the command line, the job file or the device
// is wrong (nothing ran).
//
// Threading: called from main() only.
#pragma once

namespace guplab::tools {

/** fio_main() - parse @argv (after "fio"), run, print. Returns the exit code. */
int fio_main(int argc, char** argv);

}  // namespace guplab::tools
