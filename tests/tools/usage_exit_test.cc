// usage_exit_test.cc - every subcommand ends bad usage with exit status 2 (not CLI11's
// own codes, such as 105 for a failed validator) and --help with 0; an option that would
// be ignored is refused; output that cannot be written fails the run with a message,
// whether it is buffered or written at once.
#include "tools/usage_exit.h"

#include "tools/tool_runner.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;
using guplab::testing::guplab_bin;

/** status() - the exit status of guplab @args, its output thrown away. */
int status(const std::string& args) {
  const std::string cmd = "'" + guplab_bin() + "' " + args + " >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(UsageExit, AFailedValidatorIsStatus2InEverySubcommand) {
  EXPECT_EQ(status("run ext4-bug --policy nosuch"), 2) << "a policy that does not exist";
  EXPECT_EQ(status("run ext4-bug --design nosuch"), 2);
  EXPECT_EQ(status("explore ext4-bug --policy nosuch --seeds 1"), 2);
  EXPECT_EQ(status("gup_test -a --design nosuch"), 2);
  EXPECT_EQ(status("fp-rate --design nosuch"), 2);
  EXPECT_EQ(status("demo --nosuch-option"), 2);
}

TEST(UsageExit, OptionsThatWouldBeIgnoredAreRefused) {
  const std::string cell = "explore ext4-bug --design bias --policy wait ";
  EXPECT_EQ(status("run --all --design bias"), 2) << "--all runs every design";
  EXPECT_EQ(status("run --all --policy wait"), 2);
  for (const char* opt : {"--seeds 5", "--jobs 2", "--shard 1/2", "--until-fail", "--check", "--base-seed 3"})
    EXPECT_EQ(status(cell + "--replay 7 " + opt), 2) << opt << " with --replay";
  EXPECT_EQ(status(cell + "--replay 7 --ftrace --format json"), 2) << "text lines in a JSON output";
  EXPECT_EQ(status(cell + "--seeds 5 --pct-steps 10"), 2) << "--pct-steps under the random walk";
  EXPECT_EQ(status(cell + "--replay 7 --trace ''"), 2);
  EXPECT_EQ(status("--plugin= run --list"), 2) << "dlopen(\"\") loads nothing";
  EXPECT_EQ(status("gup_test -u -m 4 --coalesce"), 2) << "--coalesce keeps pins; -u takes references";
  EXPECT_EQ(status(cell + "--replay 7 -q"), 0) << "what is left still runs";
  EXPECT_EQ(status(cell + "--seeds 5 --strategy pct --pct-steps 10 -q"), 0);
}

TEST(UsageExit, OutputThatCannotBeWrittenFailsTheRun) {
  const fs::path err = fs::temp_directory_path() / ("guplab-full." + std::to_string(::getpid()) + ".txt");
  for (const char* args : {"run --list", "run ext4-bug --design bias --policy wait", "conform --list",
                           "explore ext4-bug --design bias --policy wait --seeds 2 --format json"}) {
    const std::string cmd = "'" + guplab_bin() + "' " + args + " >/dev/full 2>'" + err.string() + "'";
    const int st = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << args << ": status " << st;
    const std::string msg = guplab::testing::slurp(err);
    EXPECT_NE(msg.find("No space left on device"), std::string::npos) << args << ": " << msg;
    EXPECT_EQ(msg.find("terminate called"), std::string::npos) << args << ": " << msg;
  }
  fs::remove(err);
}

TEST(UsageExit, HelpIsStatus0) {
  EXPECT_EQ(status("run --help"), 0);
  EXPECT_EQ(status("explore --help"), 0);
  EXPECT_EQ(status("gup_test --help"), 0);
}

}  // namespace
