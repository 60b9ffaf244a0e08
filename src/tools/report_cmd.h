// report_cmd.h - `guplab report`: one self-contained HTML page (lab/report_html.h) of a
// matrix run, explorations, and gup_test / fio figures, from their JSON outputs.
//
//   guplab report -o OUT.html [--matrix FILE] [--explore FILE]... [--gup-test FILE]...
//                 [--fio FILE]... [--seed N]
//
// FILE "-" is stdin (once). With no input at all it runs the matrix itself (as `guplab run
// --all`, sim backend, seed --seed) and reports it. Exit status: 0 when the page is written
// (whatever the outcomes in it), 2 on bad usage or when an input is not what its option
// claims (the message names the file and the field), 1 when OUT cannot be written.
//
// Threading: runs on the calling thread.
#pragma once

namespace guplab::tools {

int report_main(int argc, char** argv);

}  // namespace guplab::tools
