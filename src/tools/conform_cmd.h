// conform_cmd.h - `guplab conform`: the Linux conformance cases (lab/conform/) on the
// host kernel and on the model, side by side.
//
//   guplab conform [--host] [--design D]... [--cow-reuse refcount|mapcount]
//                  [--filter RE] [--format tap|json|table] [--timeout S] [--list]
//
// One side (--host, or one --design): kselftest TAP (default) or JSON. Several sides, or
// none (the host and every design): the table, with "design D agrees with the host on N
// of M cases run on both" per design and each disagreement with what it shows (a CVE,
// an upstream fix); --format json then prints an array of the sides' JSON objects.
// --cow-reuse applies to every model side. Exit code: 1 if a single side failed a case,
// or, with the host and several sides, if folio_pincount (under the default reuse rule)
// disagrees with the host; 2 on bad usage; else 0.
//
// Threading: runs on the calling thread (host cases in forked children).
#pragma once

namespace guplab::tools {

int conform_main(int argc, char** argv);

}  // namespace guplab::tools
