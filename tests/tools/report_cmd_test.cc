// report_cmd_test.cc - `guplab report`: the page is written, self-contained (nothing
// fetched from the network), with a grid cell per (scenario, design, policy) carrying its
// outcome and its escaped oracle text; explorations and gup_test figures become SVG bars;
// inputs that are not what their option claims are refused with exit status 2 and the
// file named, as is an output that would replace an input or cannot be written; and headless Chromium (when installed) renders the grid: the script ran
// over every cell in the DOM, and the screenshot is a 1200x900 PNG showing the outcome
// colours of the grid.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tools/tool_runner.h"

namespace guplab::testing {
namespace {

class ReportCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("guplab-report-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `guplab @args` with its stdout saved to @file of the test's directory.
  void save(const std::string& args, const std::string& file) {
    Ran r = run_guplab(args, dir_);
    ASSERT_NE(r.status, 2) << args << ": " << r.err;
    std::ofstream(dir_ / file) << r.out;
  }
  nlohmann::json matrix() { return nlohmann::json::parse(slurp(dir_ / "m.json")); }

  std::filesystem::path dir_;
};

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) n++;
  return n;
}

// @s as HTML text: the five characters that must not appear raw, as entities.
std::string escaped(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '&') out += "&amp;";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '"') out += "&quot;";
    else if (ch == '\'') out += "&#39;";
    else out += ch;
  }
  return out;
}

// Nothing the page loads or links to is on the network.
void expect_self_contained(const std::string& page) {
  EXPECT_FALSE(std::regex_search(page, std::regex(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase)))
      << "the page refers to the network";
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(page.find("<script src"), std::string::npos);
  EXPECT_NE(page.find("<style>"), std::string::npos) << "CSS inline";
}

TEST_F(ReportCmdTest, MatrixBecomesAGridCellPerScenarioDesignPolicyWithEscapedOracleText) {
  save("run --all --format json", "m.json");
  nlohmann::json m = matrix();
  ASSERT_GT(m["cells"].size(), 0u);
  // A cell whose oracle text needs escaping, and a prediction it misses.
  nlohmann::json& c0 = m["cells"][0];
  ASSERT_TRUE(c0["applies"].get<bool>());
  c0["findings"].push_back("oops: <script>alert(\"x\")</script> & 'q'");
  c0["matches"] = false;
  std::ofstream(dir_ / "m.json") << m.dump();

  Ran r = run_guplab("report -o out.html --matrix m.json", dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir_ / "out.html");
  expect_self_contained(page);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos) << "a finding went out unescaped";
  EXPECT_NE(page.find("oops: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"), std::string::npos);
  EXPECT_EQ(count(page, "<script>"), 1u) << "the page's own script only";

  std::set<std::string> scenarios;
  for (const auto& c : m["cells"]) {
    scenarios.insert(c["scenario"].get<std::string>());
    const std::string key = "data-scenario=\"" + c["scenario"].get<std::string>() + "\" data-design=\"" +
                            c["design"].get<std::string>() + "\" data-policy=\"" + c["policy"].get<std::string>() + "\"";
    ASSERT_EQ(count(page, key), 1u) << key;
    if (c["applies"].get<bool>()) {
      const std::string outcome = c["outcome"].get<std::string>();
      EXPECT_NE(page.find(key + " data-outcome=\"" + outcome + "\""), std::string::npos) << key;
      if (!c["reason"].get<std::string>().empty())
        EXPECT_NE(page.find("reason: " + escaped(c["reason"].get<std::string>())), std::string::npos) << key;
    }
  }
  EXPECT_EQ(count(page, "<table class=\"grid\""), scenarios.size()) << "one grid per scenario";
  EXPECT_EQ(count(page, "<td class=\"cell differs\""), 1u) << "the cell that misses its prediction is marked";
  EXPECT_NE(page.find("&ne; " + c0["expected"].get<std::string>()), std::string::npos);
}

TEST_F(ReportCmdTest, WithoutInputsItRunsTheMatrixItself) {
  save("run --all --format json", "m.json");
  Ran r = run_guplab("report -o out.html", dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir_ / "out.html");
  expect_self_contained(page);
  EXPECT_EQ(count(page, "<td class=\"cell"), matrix()["cells"].size()) << "the same cells as guplab run --all";
  EXPECT_NE(page.find("None given (guplab report --explore FILE)"), std::string::npos);
}

TEST_F(ReportCmdTest, ExplorationsAndGupTestBecomeSvgBars) {
  save("explore ext4-bug --design get --policy ignore --seeds 12 --format json -q", "e.json");
  save("gup_test -a -m 1 --design get --json", "g1.json");
  save("gup_test -a -m 1 --design folio_pincount --json", "g2.json");
  Ran r = run_guplab("report -o out.html --explore e.json --gup-test g1.json --gup-test g2.json", dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = slurp(dir_ / "out.html");
  expect_self_contained(page);
  const nlohmann::json e = nlohmann::json::parse(slurp(dir_ / "e.json"));
  EXPECT_EQ(count(page, "<svg class=\"histogram\""), 1u);
  EXPECT_NE(page.find(">" + std::to_string(e["outcomes"]["oops"].get<uint64_t>()) + " runs<"), std::string::npos);
  EXPECT_EQ(count(page, "<svg class=\"pincost\""), 1u);
  EXPECT_NE(page.find(">get get<"), std::string::npos);
  EXPECT_NE(page.find(">folio_pincount get<"), std::string::npos);
  EXPECT_NE(page.find(">folio_pincount put<"), std::string::npos);
  EXPECT_EQ(page.find("<table class=\"grid\""), std::string::npos) << "no matrix was given: none is run";
}

TEST_F(ReportCmdTest, InputsThatAreNotWhatTheyClaimAreRefusedNamingTheFile) {
  save("explore ext4-bug --design get --policy ignore --seeds 4 --format json -q", "e.json");
  std::ofstream(dir_ / "junk.json") << "this is not json";
  std::ofstream(dir_ / "cells.json") << R"({"cells": [{"scenario": "s", "design": "d"}]})";
  std::ofstream(dir_ / "realfio.json") << R"({"jobs": [{"jobname": "j"}]})";
  {
    nlohmann::json e = nlohmann::json::parse(slurp(dir_ / "e.json"));
    e["scripted"] = "yes";
    std::ofstream(dir_ / "scripted.json") << e.dump();
    e = nlohmann::json::parse(slurp(dir_ / "e.json"));
    e["as_predicted"] = 1;
    std::ofstream(dir_ / "predicted.json") << e.dump();
    std::ofstream(dir_ / "matches.json")
        << R"({"cells": [{"scenario": "s", "design": "d", "policy": "p", "outcome": "ok", "expected": "ok", "matches": "no"}]})";
  }
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {Case{"--matrix e.json", "e.json: no \"cells\" array: not the output of guplab run --all"},
                        Case{"--matrix junk.json", "junk.json: not JSON"},
                        Case{"--matrix cells.json", "cells.json: cell 0 has no \"policy\""},
                        Case{"--explore missing.json", "missing.json: cannot read it"},
                        Case{"--gup-test e.json", "e.json: no \"cmd\": not the output of guplab gup_test"},
                        Case{"--fio realfio.json", "realfio.json: no \"guplab\" section"},
                        Case{"--explore e.json", "--output is required"},
                        Case{"--explore scripted.json", "scripted.json: \"scripted\" is not true/false"},
                        Case{"--explore predicted.json", "predicted.json: \"as_predicted\" is not true/false"},
                        Case{"--matrix matches.json", "matches.json: cell 0: \"matches\" is not true/false"}}) {
    const bool no_output = c.message.starts_with("--output");
    Ran r = run_guplab(std::string("report ") + (no_output ? "" : "-o out.html ") + c.args, dir_);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.html")) << "no page from a bad input";
}

// --- headless Chromium ---

bool chromium_installed() { return std::system("command -v chromium >/dev/null 2>&1") == 0; }

// Run @cmd through the shell, killed after 60 s; its exit status (-1: did not exit).
int shell(const std::string& cmd) {
  const int st = std::system(("timeout -k 5 60 " + cmd).c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// A decoded 8-bit RGB or RGBA PNG (what Chromium's --screenshot writes).
struct Png {
  uint32_t width = 0, height = 0;
  unsigned channels = 0;
  std::vector<uint8_t> pixels;  // rows of width * channels bytes
  std::string error;
};

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) | (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(s[at + 3])};
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Decode @data: chunks, zlib (the system's libz, loaded at run time) and the row filters.
Png decode_png(const std::string& data) {
  Png png;
  if (data.size() < 33 || data.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return png.error = "not a PNG", png;
  std::string idat;
  for (size_t at = 8; at + 12 <= data.size();) {
    const uint32_t len = be32(data, at);
    const std::string type = data.substr(at + 4, 4);
    if (at + 12 + len > data.size()) return png.error = "truncated chunk " + type, png;
    if (type == "IHDR") {
      png.width = be32(data, at + 8);
      png.height = be32(data, at + 12);
      const uint8_t depth = static_cast<uint8_t>(data[at + 16]), colour = static_cast<uint8_t>(data[at + 17]);
      const uint8_t interlace = static_cast<uint8_t>(data[at + 20]);
      if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0)
        return png.error = "not an 8-bit non-interlaced RGB(A) PNG", png;
      png.channels = colour == 2 ? 3 : 4;
    } else if (type == "IDAT") {
      idat += data.substr(at + 8, len);
    }
    at += 12 + len;
  }
  if (!png.channels) return png.error = "no IHDR", png;
  void* z = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!z) return png.error = "cannot load libz.so.1", png;
  using Uncompress = int (*)(unsigned char*, unsigned long*, const unsigned char*, unsigned long);
  auto uncompress = reinterpret_cast<Uncompress>(dlsym(z, "uncompress"));
  const size_t stride = size_t{png.width} * png.channels;
  std::vector<uint8_t> raw((stride + 1) * png.height);
  unsigned long raw_len = raw.size();
  const int zr = uncompress ? uncompress(raw.data(), &raw_len, reinterpret_cast<const unsigned char*>(idat.data()), idat.size())
                            : -1;
  dlclose(z);
  if (zr != 0 || raw_len != raw.size()) return png.error = "bad zlib data", png;
  png.pixels.resize(stride * png.height);
  for (size_t y = 0; y < png.height; y++) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &png.pixels[y * stride];
    const uint8_t* up = y ? &png.pixels[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; x++) {
      const int a = x >= png.channels ? out[x - png.channels] : 0, b = up ? up[x] : 0,
                c = up && x >= png.channels ? up[x - png.channels] : 0;
      int v = in[x];
      switch (filter) {
        case 0: break;
        case 1: v += a; break;
        case 2: v += b; break;
        case 3: v += (a + b) / 2; break;
        case 4: v += paeth(a, b, c); break;
        default: return png.error = "bad row filter", png;
      }
      out[x] = static_cast<uint8_t>(v);
    }
  }
  return png;
}

TEST_F(ReportCmdTest, AnOutputThatWouldReplaceAnInputOrCannotBeWrittenIsRefusedBeforeAnythingRuns) {
  save("explore ext4-bug --design get --policy ignore --seeds 4 --format json -q", "e.json");
  const std::string before = slurp(dir_ / "e.json");
  std::filesystem::create_directory(dir_ / "sub");
  struct Case {
    std::string args, message;
  };
  for (const Case& c : {Case{"-o e.json --explore e.json", "-o e.json is the input e.json: the page would replace it"},
                        Case{"-o ./e.json --explore e.json", "is the input e.json"},
                        Case{"-o sub --explore e.json", "-o sub: is a directory"},
                        Case{"-o nodir/x.html --explore e.json", "-o nodir/x.html: no directory nodir"},
                        Case{"-o x.html --explore e.json --seed -1", "--seed: '-1' is not a whole number"}}) {
    Ran r = run_guplab("report " + c.args, dir_);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << ": " << r.err;
  }
  EXPECT_EQ(slurp(dir_ / "e.json"), before) << "the input is intact";
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.html"));
}

TEST_F(ReportCmdTest, HeadlessChromiumRendersTheGrid) {
  if (!chromium_installed()) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  save("run --all --format json", "m.json");
  const size_t cells = matrix()["cells"].size();
  Ran r = run_guplab("report -o report.html --matrix m.json", dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string url = "file://" + (dir_ / "report.html").string();
  const std::string chromium = "chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir='" +
                               (dir_ / "profile").string() + "' ";

  // The DOM after the script ran: every cell is there and the script counted them.
  ASSERT_EQ(shell(chromium + "--dump-dom '" + url + "' >'" + (dir_ / "dom.html").string() + "' 2>/dev/null"), 0);
  const std::string dom = slurp(dir_ / "dom.html");
  EXPECT_NE(dom.find("data-report-ready=\"1\""), std::string::npos) << "the page's script did not run";
  EXPECT_NE(dom.find("data-cells=\"" + std::to_string(cells) + "\""), std::string::npos);
  EXPECT_EQ(count(dom, "<td class=\"cell"), cells);

  // The screenshot: a 1200x900 PNG in which the grid's colours show.
  ASSERT_EQ(shell(chromium + "--screenshot='" + (dir_ / "shot.png").string() + "' --window-size=1200,900 '" + url +
                  "' >/dev/null 2>&1"),
            0);
  const Png png = decode_png(slurp(dir_ / "shot.png"));
  ASSERT_TRUE(png.error.empty()) << png.error;
  EXPECT_EQ(png.width, 1200u);
  EXPECT_EQ(png.height, 900u);
  std::set<uint32_t> colours;
  size_t ok_green = 0, oops_red = 0;
  for (size_t i = 0; i + png.channels <= png.pixels.size(); i += png.channels) {
    const uint8_t* p = &png.pixels[i];
    colours.insert(uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]);
    auto near = [&](int r_, int g, int b) { return std::abs(p[0] - r_) <= 4 && std::abs(p[1] - g) <= 4 && std::abs(p[2] - b) <= 4; };
    ok_green += near(0x2e, 0x7d, 0x32);
    oops_red += near(0xb3, 0x26, 0x1e);
  }
  EXPECT_GT(colours.size(), 16u) << "a blank or one-colour screenshot";
  EXPECT_GT(ok_green, 20000u) << "the grid's ok cells are not on the screen";
  EXPECT_GT(oops_red, 2000u) << "the grid's oops cells are not on the screen";
}

}  // namespace
}  // namespace guplab::testing
