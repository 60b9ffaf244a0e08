// fuzz_corpus_test.cc - the syscall-sequence fuzzer's programs in the ordinary suite: every
// input kept in fuzz/corpus/syscall/ (the seeds, and each crash libFuzzer found, kept as a
// regression), and a few hundred programs drawn from a fixed seed. Each must pass every
// check of run_syscall_program() (pins balance, every frame free after teardown, no false
// negative from page_maybe_dma_pinned(), no oops, no WARN).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/random.h"
#include "fuzz/syscall_program.h"

namespace {

namespace fs = std::filesystem;

fs::path corpus_dir() {
  const char* src = std::getenv("GUPLAB_SOURCE_DIR");
  return fs::path(src ? src : "../..") / "fuzz" / "corpus" / "syscall";
}

std::string run(const std::vector<uint8_t>& bytes, guplab::fuzz::ProgramStats* st = nullptr) {
  return guplab::fuzz::run_syscall_program(bytes.data(), bytes.size(), st);
}

TEST(SyscallFuzzCorpus, EveryKeptInputPasses) {
  const fs::path dir = corpus_dir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(run(bytes), "") << e.path();
    n++;
  }
  EXPECT_GT(n, 0u) << "the seed corpus is empty";
}

/** program() - program @i of the fixed-seed series (seed 15). */
std::vector<uint8_t> program(int i) {
  guplab::Random rng(15);
  std::vector<uint8_t> bytes;
  for (int k = 0; k <= i; k++) {
    bytes.assign(64 + rng.uniform(512), 0);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng.uniform(256));
  }
  return bytes;
}

TEST(SyscallFuzzCorpus, ProgramsFromAFixedSeedPass) {
  guplab::fuzz::ProgramStats st;
  for (int i = 0; i < 100; i++) {
    const std::vector<uint8_t> bytes = program(i);
    std::string log;
    st.log = &log;
    if (std::getenv("FUZZ_VERBOSE")) fprintf(stderr, "program %d\n", i);
    const std::string problem = run(bytes, &st);
    ASSERT_EQ(problem, "") << "program " << i << " of seed 15\n" << log;
  }
  // The programs reach what the checks are about: pins taken and released, forks, O_DIRECT.
  EXPECT_GT(st.pins, 100u);
  EXPECT_GT(st.forks, 10u);
  EXPECT_GT(st.steps, 4000u);
}

// Finding F1 (fuzz/findings/README.md): program 42 of the series, with FOLL_LONGTERM left on
// for file-backed vmas, pins a MAP_PRIVATE ext4 mapping with pin_user_pages_fast(FOLL_LONGTERM)
// and GUP never returned: the unshare fault on a page-cache page did nothing (fixed with
// the conformance suite's gup_longterm cases, which found the same loop).
TEST(SyscallFuzzCorpus, FindingF1LongtermPinOfPrivateFileMappingReturns) {
  const std::vector<uint8_t> bytes = program(42);
  EXPECT_EQ(guplab::fuzz::run_syscall_program(bytes.data(), bytes.size(), nullptr, false), "");
}

}  // namespace
