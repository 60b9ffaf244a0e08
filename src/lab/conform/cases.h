// cases.h - the conformance catalogue: each case written once against ConformSys
// (lab/conform/sys.h), from what the kernel's selftests check (tools/testing/selftests/
// mm/cow.c and gup_longterm.c, by David Hildenbrand: their case names and expectations),
// plus O_DIRECT and Dirty COW cases of our own.
//
// Threading: the catalogue is immutable; a case runs on the thread that calls it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "lab/conform/sys.h"

namespace guplab::conform {

enum class Result { pass, fail, skip };
const char* to_string(Result r);

/** Outcome - a case's result and why (the failure, or what the side lacks). */
struct Outcome {
  Result result = Result::pass;
  std::string reason;
};

/** Case - one conformance case. */
struct Case {
  std::string name;    // "<selftest case> ... with <backing>", as kselftest prints them
  std::string source;  // "cow.c", "gup_longterm.c", "guplab"
  // What a failure shows: the CVE or upstream fix whose absence makes it fail.
  std::string shows;
  std::function<Outcome(ConformSys&)> run;
};

/** catalogue() - every case, in a fixed order. */
const std::vector<Case>& catalogue();

}  // namespace guplab::conform
