// conform_test.cc - the conformance catalogue (lab/conform/): the model side of every
// case under folio_pincount passes or skips with a reason; the host side never fails
// (a skip is the host's own limit); the pre-5.8 COW reuse rule leaks in the vmsplice
// cases and names CVE-2020-29374; the reports carry what the issue promises.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "lab/conform/cases.h"
#include "lab/conform/runner.h"

namespace guplab::conform {
namespace {

SideSpec model(PinDesign d, CowReuse r = CowReuse::refcount) { return SideSpec{ModelSide{d, r}}; }

TEST(ConformCatalogueTest, HasTheSelftestsCasesWithUniqueNames) {
  std::set<std::string> names;
  for (const Case& c : catalogue()) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  EXPECT_GE(names.size(), 60u);
  for (const char* n : {"vmsplice() + unmap in child ... with base page",
                        "fork() with an iouring fixed buffer ... with PTE-mapped THP (2048 kB)",
                        "R/O GUP-fast pin on R/O-mapped exclusive page ... with partially shared THP (2048 kB)",
                        "Basic COW ... with shared zeropage",
                        "R/W longterm GUP pin in MAP_SHARED file mapping ... with tmpfile",
                        "io_uring fixed buffer with MAP_PRIVATE file mapping ... with memfd",
                        "Dirty COW: FOLL_FORCE write to a R/O private file mapping"})
    EXPECT_TRUE(names.count(n)) << n;
}

TEST(ConformModelTest, EveryCasePassesOrSkipsUnderFolioPincount) {
  int ran = 0;
  for (const Case& c : catalogue()) {
    Outcome o = run_case(c, model(PinDesign::folio_pincount));
    EXPECT_NE(o.result, Result::fail) << c.name << ": " << o.reason;
    if (o.result == Result::skip) EXPECT_FALSE(o.reason.empty()) << c.name;
    ran += o.result == Result::pass;
  }
  EXPECT_GE(ran, 60);
}

TEST(ConformHostTest, NoCaseFailsOnTheHost) {
  for (const Case& c : catalogue()) {
    Outcome o = run_case(c, SideSpec{});
    EXPECT_NE(o.result, Result::fail) << c.name << ": " << o.reason;
    if (o.result == Result::skip) EXPECT_FALSE(o.reason.empty()) << c.name;
  }
}

TEST(ConformModelTest, MapcountReuseLeaksInEveryVmspliceCaseAndNamesTheCve) {
  for (const Case* c : select_cases("^vmsplice\\(\\).* with base page$")) {
    Outcome o = run_case(*c, model(PinDesign::folio_pincount, CowReuse::mapcount));
    EXPECT_EQ(o.result, Result::fail) << c->name;
    EXPECT_NE(o.reason.find("CVE-2020-29374"), std::string::npos) << o.reason;
  }
  // The rule changes nothing where nobody else holds the page.
  for (const Case* c : select_cases("^Basic COW after fork\\(\\) \\.\\.\\. with base page$"))
    EXPECT_EQ(run_case(*c, model(PinDesign::folio_pincount, CowReuse::mapcount)).result, Result::pass);
}

TEST(ConformModelTest, GetDesignLosesTheForkedFixedBufferAndNamesTheFix) {
  auto cases = select_cases("^fork\\(\\) with an iouring fixed buffer \\.\\.\\. with base page$");
  ASSERT_EQ(cases.size(), 1u);
  Outcome o = run_case(*cases[0], model(PinDesign::get));
  EXPECT_EQ(o.result, Result::fail);
  EXPECT_NE(o.reason.find("70e806e4e645"), std::string::npos) << o.reason;
  EXPECT_EQ(run_case(*cases[0], model(PinDesign::folio_pincount)).result, Result::pass);
}

TEST(ConformModelTest, LongtermRwPinOfADiskFileIsRefusedAndOfMemfdIsNot) {
  auto refused = select_cases("^R/W longterm GUP(-fast)? pin in MAP_SHARED file mapping \\.\\.\\. with (tmpfile|memfd)$");
  ASSERT_EQ(refused.size(), 4u);
  for (const Case* c : refused) EXPECT_EQ(run_case(*c, model(PinDesign::folio_pincount)).result, Result::pass) << c->name;
}

TEST(ConformReportTest, JsonAndTapCarryEveryCase) {
  auto cases = select_cases("^Basic COW ... with (shared zeropage|huge zeropage)$");
  ASSERT_EQ(cases.size(), 2u);
  SideRun run = run_side(cases, model(PinDesign::folio_pincount), nullptr);
  auto j = nlohmann::json::parse(to_json(cases, run));
  EXPECT_EQ(j["side"], "folio_pincount");
  ASSERT_EQ(j["cases"].size(), 2u);
  EXPECT_EQ(j["cases"][0]["result"], "pass");
  EXPECT_EQ(j["cases"][1]["result"], "skip");
  EXPECT_NE(j["cases"][1]["reason"].get<std::string>().find("huge zero page"), std::string::npos);
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  print_tap(f, cases, run);
  std::fclose(f);
  std::string tap(buf, len);
  std::free(buf);
  EXPECT_NE(tap.find("1..2\n"), std::string::npos);
  EXPECT_NE(tap.find("ok 1 Basic COW ... with shared zeropage\n"), std::string::npos);
  EXPECT_NE(tap.find("ok 2 Basic COW ... with huge zeropage # SKIP"), std::string::npos);
}

TEST(ConformReportTest, AgreementCountsOnlyCasesBothSidesRan) {
  SideRun host{"host", {{Result::pass, ""}, {Result::skip, "x"}, {Result::pass, ""}, {Result::fail, "y"}}};
  SideRun other{"d", {{Result::pass, ""}, {Result::pass, ""}, {Result::fail, "z"}, {Result::skip, "w"}}};
  Agreement a = compare(host, other);
  EXPECT_EQ(a.both, 2);
  EXPECT_EQ(a.agree, 1);
  ASSERT_EQ(a.differ.size(), 1u);
  EXPECT_EQ(a.differ[0], 2u);
}

}  // namespace
}  // namespace guplab::conform
