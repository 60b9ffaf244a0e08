// cli_fuzz.cc - libFuzzer target: the command-line parsers of guplab's subcommands. The
// input's first byte picks a subcommand (run, explore, gup_test, fp-rate, demo, fio), the
// rest is its argv, NUL-separated. A guard argument makes sure nothing runs after the parse:
// an unknown scenario (run, explore), two commands (gup_test), an argument the command does
// not take (fp-rate, demo), a job file that does not exist (fio). Run it with
// -close_fd_mask=3 (fuzz/run.sh does): the commands' messages go nowhere, libFuzzer's own still print.
#include <string>
#include <vector>

#include "tools/demo_cmd.h"
#include "tools/explore_cmd.h"
#include "tools/fio_cmd.h"
#include "tools/fp_rate_cmd.h"
#include "tools/gup_test.h"
#include "tools/run_cmd.h"

namespace {

struct Sub {
  const char* name;
  int (*main)(int, char**);
  std::vector<std::string> guard;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace guplab::tools;
  static const Sub kSubs[] = {
      {"run", run_main, {"no-such-scenario"}},
      {"explore", explore_main, {"no-such-scenario"}},
      {"gup_test", gup_test_main, {"-u", "-a"}},
      {"fp-rate", fp_rate_main, {"unexpected-argument"}},
      {"demo", demo_main, {"unexpected-argument"}},
      {"fio", fio_main, {"/nonexistent/guplab-fuzz.fio"}},
  };
  if (size == 0) return 0;
  const Sub& sub = kSubs[data[0] % (sizeof(kSubs) / sizeof(kSubs[0]))];
  std::vector<std::string> args{std::string("guplab ") + sub.name};
  std::string cur;
  for (size_t i = 1; i < size; i++) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (!cur.empty()) args.push_back(cur);
  for (const std::string& g : sub.guard) args.push_back(g);
  // --help, --list and --version end the parse at once and run nothing either; a job file
  // named in the input is replaced so that fio never runs one.
  if (sub.main == fio_main)
    for (size_t i = 1; i + 1 < args.size(); i++)
      if (!args[i].empty() && args[i][0] != '-') args[i] = "--name=x";
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  sub.main(static_cast<int>(args.size()), argv.data());
  return 0;
}
