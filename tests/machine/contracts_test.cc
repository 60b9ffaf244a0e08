// contracts_test.cc - the tree keeps its preconditions checked in every build: no C
// assert() (which the release build's NDEBUG drops) in src/; kernel code states them with
// VM_BUG_ON / VM_WARN_ON_ONCE / mmap_assert_*() and lab machinery with GUPLAB_CHECK()
// (base/bug.h). That the checks fire is tested where they are (e.g. memory_test.cc's
// RequiresChecked).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tools/tool_runner.h"

namespace guplab {
namespace {

using testing::source_dir;

TEST(Contracts, NoAssertThatReleaseBuildsDrop) {
  const std::filesystem::path src = source_dir() / "src";
  ASSERT_TRUE(std::filesystem::is_directory(src)) << src;
  const std::regex c_assert(R"((^|[^_A-Za-z0-9])assert\s*\()");
  std::string found;
  unsigned files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(src)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
    files++;
    std::ifstream in(e.path());
    std::string line;
    for (unsigned no = 1; std::getline(in, line); no++) {
      const auto comment = line.find("//");
      const std::string code = comment == std::string::npos ? line : line.substr(0, comment);
      if (std::regex_search(code, c_assert)) found += e.path().string() + ":" + std::to_string(no) + ": " + line + "\n";
    }
  }
  EXPECT_GT(files, 100u) << "walked the tree";
  EXPECT_EQ(found, "") << "use VM_BUG_ON / VM_WARN_ON_ONCE (kernel code) or GUPLAB_CHECK (lab code)";
}

}  // namespace
}  // namespace guplab
