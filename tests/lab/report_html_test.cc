// report_html_test.cc - the page of `guplab report` from hand-made inputs: escaping, a
// cell marked where it misses its prediction, a not-run cell, an outcome the build does
// not know still shown by name, histogram and pin-cost bars, and the checks that refuse
// inputs of the wrong kind with the file and the field named.
#include "lab/report_html.h"

#include <gtest/gtest.h>

#include <string>

namespace guplab {
namespace {

using nlohmann::json;

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) n++;
  return n;
}

ReportInput matrix_input() {
  json m = {{"seed", 7}, {"backend", "sim"}};
  m["cells"] = json::array();
  m["cells"].push_back({{"scenario", "s<1>"}, {"design", "get"}, {"policy", "skip"}, {"applies", true}, {"outcome", "oops"},
                        {"expected", "ok"}, {"matches", false}, {"reason", "a \"BUG\" & more"}, {"findings", {"oops: <b>"}}});
  m["cells"].push_back({{"scenario", "s<1>"}, {"design", "bias"}, {"policy", "skip"}, {"applies", true}, {"outcome", "novel"},
                        {"expected", "novel"}, {"matches", true}, {"reason", ""}, {"findings", json::array()}});
  m["cells"].push_back({{"scenario", "s<1>"}, {"design", "get"}, {"policy", "wait"}, {"applies", false}});
  return {"m.json", m};
}

TEST(ReportHtmlTest, HtmlEscapeReplacesEveryMarkupCharacter) {
  EXPECT_EQ(html_escape("<a href='x'>\"&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

TEST(ReportHtmlTest, GridCellsCarryOutcomeMarkAndEscapedOracleText) {
  ReportInputs in;
  in.matrices.push_back(matrix_input());
  ASSERT_TRUE(check_matrix_json(in.matrices[0]).ok());
  const std::string page = render_report_html(in);
  EXPECT_EQ(page.find("s<1>"), std::string::npos) << "a scenario name went out raw";
  EXPECT_EQ(page.find("oops: <b>"), std::string::npos);
  EXPECT_EQ(count(page, "<table class=\"grid\" data-scenario=\"s&lt;1&gt;\""), 1u);
  EXPECT_EQ(count(page, "<td class=\"cell"), 4u) << "2 designs x 2 policies, one cell absent from the input";
  EXPECT_EQ(count(page, "<td class=\"cell differs\""), 1u);
  EXPECT_NE(page.find("&ne; ok"), std::string::npos);
  EXPECT_NE(page.find("reason: a &quot;BUG&quot; &amp; more\nfinding: oops: &lt;b&gt;"), std::string::npos);
  EXPECT_NE(page.find("data-outcome=\"novel\""), std::string::npos) << "an unknown outcome is shown by name";
  EXPECT_EQ(count(page, "<td class=\"cell notrun\""), 1u);
  EXPECT_EQ(count(page, "<td class=\"cell absent\""), 1u);
}

TEST(ReportHtmlTest, ExplorationHistogramAndPinCostBars) {
  ReportInputs in;
  json e = {{"scenario", "torn-writeback"}, {"design", "get"}, {"policy", "ignore"}, {"runs", 10u}, {"failed", 3u},
            {"base_seed", 1u}, {"outcomes", {{"ok", 7u}, {"torn", 3u}}}};
  in.explorations.push_back({"e.json", e});
  ASSERT_TRUE(check_explore_json(in.explorations[0]).ok());
  json g = {{"cmd", "PIN_FAST_BENCHMARK"}, {"design", "bias"}, {"model", {{"get_ns_per_page", 12.5}, {"put_ns_per_page", 4.0}}}};
  in.gup_tests.push_back({"g.json", g});
  ASSERT_TRUE(check_gup_test_json(in.gup_tests[0]).ok());
  const std::string page = render_report_html(in);
  EXPECT_NE(page.find(">7 runs<"), std::string::npos);
  EXPECT_NE(page.find(">3 runs<"), std::string::npos);
  EXPECT_NE(page.find(">bias get<"), std::string::npos);
  EXPECT_NE(page.find(">12.5 ns/page<"), std::string::npos);
  EXPECT_NE(page.find(">4 ns/page<"), std::string::npos);
}

TEST(ReportHtmlTest, ChecksNameTheFileAndTheField) {
  const ReportInput explore{"e.json", {{"scenario", "x"}}};
  EXPECT_EQ(check_matrix_json(explore).error(), "e.json: no \"cells\" array: not the output of guplab run --all --format json");
  EXPECT_EQ(check_explore_json(explore).error(), "e.json: no \"design\": not the output of guplab explore/merge --format json");
  EXPECT_EQ(check_gup_test_json({"g.json", json::array()}).error(), "g.json: not a JSON object: not the output of guplab gup_test ... --json");
  ReportInput m = matrix_input();
  m.json["cells"][1].erase("outcome");
  EXPECT_EQ(check_matrix_json(m).error(), "m.json: cell 1 has no \"outcome\": not the output of guplab run --all --format json");
  const ReportInput bad_count{"e.json", {{"scenario", "x"}, {"design", "d"}, {"policy", "p"}, {"runs", 1u}, {"failed", 0u},
                                         {"base_seed", 1u}, {"outcomes", {{"ok", -1}}}}};
  EXPECT_NE(check_explore_json(bad_count).error().find("outcome \"ok\" is not a count"), std::string::npos);
  EXPECT_NE(check_fio_json({"f.json", {{"jobs", json::array()}}}).error().find("f.json: no \"guplab\" section"), std::string::npos);
}

}  // namespace
}  // namespace guplab
