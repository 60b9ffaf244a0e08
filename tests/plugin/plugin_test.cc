// plugin_test.cc - tools/plugin.h: `guplab --plugin LIB.so` loads a library whose static
// initializers register a design and a policy, which then run and are in the matrix; a
// library that does not load, or registers a name twice, is refused with a message.
#include <gtest/gtest.h>

#include <filesystem>

#include "tools/tool_runner.h"

namespace guplab {
namespace {

namespace fs = std::filesystem;

// Beside the guplab binary in the build tree (CMakeLists.txt builds it with the tests).
std::string plugin_path() { return (fs::path(testing::guplab_bin()).parent_path() / "libguplab_test_plugin.so").string(); }

class PluginCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("guplab-plugin-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(fs::exists(plugin_path())) << plugin_path();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(PluginCli, ARegisteredDesignAndPolicyRunAScenario) {
  const testing::Ran r = testing::run_guplab(
      "--plugin " + plugin_path() + " run ext4-bug --design plugin_bias --policy plugin_skip --format json", dir_);
  EXPECT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("\"design\": \"plugin_bias\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"policy\": \"plugin_skip\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"matches\": true"), std::string::npos) << "predicted as bias/skip: " << r.out;
}

TEST_F(PluginCli, TheOptionMayStandAfterTheCommandAndNamesAreListed) {
  const testing::Ran r = testing::run_guplab("run --help --plugin=" + plugin_path(), dir_);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("plugin_bias"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("plugin_skip"), std::string::npos) << r.out;
  const testing::Ran without = testing::run_guplab("run ext4-bug --design plugin_bias", dir_);
  EXPECT_NE(without.status, 0) << "without the plugin the design is unknown";
}

TEST_F(PluginCli, ExploreTakesThem) {
  const testing::Ran r = testing::run_guplab(
      "--plugin " + plugin_path() + " explore lost-update --design plugin_bias --policy plugin_skip --seeds 20", dir_);
  EXPECT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("plugin_bias"), std::string::npos) << r.out;
}

TEST_F(PluginCli, ALibraryThatDoesNotLoadIsRefused) {
  const testing::Ran r = testing::run_guplab("--plugin " + (dir_ / "nonexistent.so").string() + " run --list", dir_);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--plugin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nonexistent.so"), std::string::npos) << r.err;
  const testing::Ran bare = testing::run_guplab("run --list --plugin", dir_);
  EXPECT_EQ(bare.status, 2);
  EXPECT_NE(bare.err.find("needs the path"), std::string::npos) << bare.err;
}

TEST_F(PluginCli, RegisteringANameTwiceIsRefused) {
  const fs::path copy = dir_ / "copy.so";  // another file: dlopen() runs its initializers again
  fs::copy_file(plugin_path(), copy);
  const testing::Ran r =
      testing::run_guplab("--plugin " + plugin_path() + " --plugin " + copy.string() + " run --list", dir_);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot register pin design 'plugin_bias': EEXIST"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace guplab
