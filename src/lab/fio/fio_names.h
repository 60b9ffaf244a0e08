// fio_names.h - the names of options fio itself has (fio 3.33's HOWTO, not a complete list of
// every engine's options) and engines, so that an option or engine guplab does not run can be
// told apart from a typo: "fio has this option, but guplab does not support it" or "fio has no such option".
// Threading: stateless pure functions over constant tables; safe from any thread.
#pragma once
#include <string>
#include <string_view>

namespace guplab::fio {

/** is_fio_verify() - is @v one of fio 3.33's verify= values (e.g. "sha256", "xxhash")? */
bool is_fio_verify(std::string_view v);
/** is_fio_engine() - is @e one of fio 3.33's ioengine= values (e.g. "posixaio", "mmap", "external:...")? */
bool is_fio_engine(std::string_view e);
/** is_fio_option() - does fio 3.33 have an option named @key (exactly, e.g. "ramp_time")? */
bool is_fio_option(std::string_view key);

/**
 * unknown_option_why() - what to say about option @key, which guplab does not run:
 * "fio has this option, but guplab does not support it (guplab runs: ...)" when fio knows
 * it, else "fio has no such option", with "did you mean 'X'?" when @key is within two edits
 * of an option guplab runs (@supported: a ", "-separated list of them).
 */
std::string unknown_option_why(std::string_view key, std::string_view supported);

}  // namespace guplab::fio
