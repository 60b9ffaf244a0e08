// seeds_doc_test.cc - docs/seeds.md's tables say where each seed mechanism lives and which
// test checks it: every `path`: `name` reference there must name a file that exists and
// a symbol in it, and every test it names must be a TEST/TEST_F/TEST_P of that file.
// A renamed function or test that the table still cites is a broken promise to a reader.
// Threading: test bodies only.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "tools/tool_runner.h"

namespace guplab {
namespace {

namespace fs = std::filesystem;

using testing::source_dir;

/** `src/mm/x.{h,cc}` -> both files; anything else -> itself. */
std::vector<std::string> expand(const std::string& path) {
  static const std::regex brace(R"(^(.*)\{([^}]*)\}$)");
  std::smatch m;
  if (!std::regex_match(path, m, brace)) return {path};
  std::vector<std::string> out;
  const std::string alts = m[2];
  for (size_t at = 0;;) {
    const size_t comma = alts.find(',', at);
    out.push_back(std::string(m[1]) + alts.substr(at, comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

/**
 * check_refs() - the problems with the references of one table row @row: each
 * "`path`: `name`, `name`" segment (up to the next ';', '|' or path) is checked against
 * the files under @root. A test file's `Suite.Name` (with an optional Prefix/ and /param)
 * must be a test of it; any other name's identifier must appear in the file.
 */
std::vector<std::string> check_refs(const std::string& row, const fs::path& root) {
  static const std::regex path_re(R"(`((?:src|tests|bench|fuzz|scripts|examples)/[^`]+)`)");
  static const std::regex tick_re(R"(`([^`]+)`)");
  static const std::regex test_re(R"(^(?:\w+/)?(\w+)\.(\w+)(?:/[\w*]+)?$)");
  static const std::regex ident_re(R"(^[~A-Za-z_][A-Za-z0-9_:~]*)");
  static const std::regex file_re(R"(^[\w.\-]+\.(h|cc|md|sh|py|fio|json)$)");
  std::vector<std::string> problems;
  std::vector<std::smatch> paths;
  for (auto it = std::sregex_iterator(row.begin(), row.end(), path_re); it != std::sregex_iterator(); ++it)
    paths.push_back(*it);
  for (size_t i = 0; i < paths.size(); i++) {
    const std::string path = paths[i][1];
    std::string text;
    bool missing = false;
    const bool dir = fs::is_directory(root / path);
    for (const std::string& p : expand(path)) {
      if (!fs::exists(root / p)) missing = true;
      else if (fs::is_regular_file(root / p)) text += testing::slurp(root / p);
    }
    if (missing) {
      problems.push_back("no file " + path);
      continue;
    }
    // The names: what follows the path's ':' up to the next ';', '|' or path.
    const size_t from = static_cast<size_t>(paths[i].position(0) + paths[i].length(0));
    if (from >= row.size() || row[from] != ':') continue;
    size_t to = i + 1 < paths.size() ? static_cast<size_t>(paths[i + 1].position(0)) : row.size();
    to = std::min({to, row.find(';', from), row.find('|', from)});
    const std::string rest = row.substr(from, to - from);
    for (auto it = std::sregex_iterator(rest.begin(), rest.end(), tick_re); it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1];
      if (name.rfind("make ", 0) == 0) continue;  // a command, not a symbol
      if (dir) {  // a directory's names are its files (anything else there is prose)
        if (std::regex_match(name, file_re) && !fs::exists(root / path / name)) problems.push_back(path + ": no file " + name);
        continue;
      }
      std::smatch t;
      if (path.rfind("tests/", 0) == 0 && std::regex_match(name, t, test_re)) {
        const std::regex def("TEST(_F|_P)?\\(\\s*" + std::string(t[1]) + "\\s*,\\s*" + std::string(t[2]) + "\\s*\\)");
        if (!std::regex_search(text, def)) problems.push_back(path + ": no test " + name);
        continue;
      }
      std::smatch id;
      if (!std::regex_search(name, id, ident_re)) continue;  // prose in backticks
      std::string sym = id[0];
      if (const size_t colons = sym.rfind("::"); colons != std::string::npos) sym = sym.substr(colons + 2);
      if (!sym.empty() && text.find(sym) == std::string::npos) problems.push_back(path + ": no " + name);
    }
  }
  return problems;
}

TEST(SeedsDoc, EveryFileFunctionAndTestTheTablesCiteExists) {
  const fs::path root = source_dir();
  const std::string doc = testing::slurp(root / "docs" / "seeds.md");
  ASSERT_FALSE(doc.empty()) << root / "docs" / "seeds.md";
  static const std::regex row_re(R"(^\| [0-9A-Za-z.\-]+ \|)");
  std::string found;
  unsigned rows = 0, lineno = 0;
  for (size_t at = 0; at < doc.size();) {
    size_t nl = doc.find('\n', at);
    if (nl == std::string::npos) nl = doc.size();
    const std::string line = doc.substr(at, nl - at);
    at = nl + 1;
    lineno++;
    if (!std::regex_search(line, row_re)) continue;
    rows++;
    for (const std::string& p : check_refs(line, root)) found += "docs/seeds.md:" + std::to_string(lineno) + ": " + p + "\n";
  }
  EXPECT_GT(rows, 100u) << "read the tables";
  EXPECT_EQ(found, "");
}

TEST(SeedsDoc, TheCheckCatchesAMissingFileFunctionOrTest) {
  const fs::path root = source_dir();
  const auto p = check_refs(
      "| 9.9 | x | `src/mm/migrate.cc`: `folio_migrate_mapping`, `no_such_function_here` | "
      "`tests/mm/migrate_test.cc`: `MigrateTest.AnonPageMovesWithItsContentsMappingAndANotification`, "
      "`MigrateTest.NoSuchTest`; `src/mm/no_such_file.cc`: `x`; `src/mm/`: `migrate.h`, `gone.h` | - |",
      root);
  ASSERT_EQ(p.size(), 4u) << ::testing::PrintToString(p);
  EXPECT_EQ(p[0], "src/mm/migrate.cc: no no_such_function_here");
  EXPECT_EQ(p[1], "tests/mm/migrate_test.cc: no test MigrateTest.NoSuchTest");
  EXPECT_EQ(p[2], "no file src/mm/no_such_file.cc");
  EXPECT_EQ(p[3], "src/mm/: no file gone.h");
}

}  // namespace
}  // namespace guplab
