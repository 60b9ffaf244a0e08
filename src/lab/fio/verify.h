// verify.h - fio's verify= for guplab fio: each verify_interval-sized chunk of a written
// block starts with a header (magic, checksum type, chunk length, the chunk's file
// offset, the job's seed, the write's number and a crc32c of the header itself) followed,
// for crc32c and md5, by a checksum of the rest of the chunk. Reading a block back checks
// every chunk and, on a mismatch, says so in fio's words ("crc32c: verify failed at file
// ... offset ..., length ... (requested block: offset=..., length=...)", "Expected CRC",
// "Received CRC"). verify=meta checks the header only (a corrupted data byte passes, as in
// fio). The layout is guplab's own: blocks written by real fio do not verify here.
//
// Threading: stateless functions over caller-owned buffers; safe from any thread.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "lab/fio/job_file.h"

namespace guplab::fio {

/** crc32c() - the Castagnoli CRC of @data (initial ~0, final xor ~0, as the kernel's crc32c). */
uint32_t crc32c(std::span<const uint8_t> data);
/** md5() - RFC 1321's digest of @data. */
std::array<uint8_t, 16> md5(std::span<const uint8_t> data);

/** Which I/O a block belongs to, for its headers and for messages. */
struct VerifyBlock {
  std::string file;         // the file's name, as messages print it
  uint64_t offset = 0;      // the block's byte offset in the file
  uint64_t seed = 0;        // the writing job's (checked unless 0: a job reading another's blocks)
  uint64_t numberio = 0;    // the write's number in the job
};

/** verify_header_bytes() - bytes of header and checksum at the start of each chunk. */
uint64_t verify_header_bytes(VerifyType t);

/**
 * fill_verify() - write the headers and checksums of @blk into @buf, one per @interval bytes.
 * REQUIRES: t != none; interval > verify_header_bytes(t); buf.size() a multiple of @interval.
 */
void fill_verify(std::span<uint8_t> buf, uint64_t interval, VerifyType t, const VerifyBlock& blk);

/**
 * check_verify() - check every chunk of @buf, read from @blk.offset. Returns nullopt if all
 * are good, else fio's message for the first bad one (lines separated by '\n').
 * REQUIRES: as fill_verify().
 */
std::optional<std::string> check_verify(std::span<const uint8_t> buf, uint64_t interval, VerifyType t,
                                        const VerifyBlock& blk);

}  // namespace guplab::fio
