// wb_policy_test.cc - the writeback policy table (machine/wb_policy.h) against README's
// policy table, row by row and field by field, and the row a machine computes at boot.
// (What each field makes the machine do: tests/mm/page_writeback_test.cc,
// tests/fs/fs_writeback_test.cc, tests/fs/ext4_test.cc.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "machine/config.h"
#include "machine/machine.h"
#include "machine/wb_policy.h"

namespace guplab {
namespace {

/** The README: $GUPLAB_SOURCE_DIR/README.md, or two levels up from the test binary. */
std::string readme_path() {
  if (const char* dir = std::getenv("GUPLAB_SOURCE_DIR")) return std::string(dir) + "/README.md";
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return "README.md";
  std::string p(exe, static_cast<size_t>(n));
  for (int up = 0; up < 3; up++) p = p.substr(0, p.rfind('/'));  // build/<preset>/machine_tests
  return p + "/README.md";
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" `");
  const size_t e = s.find_last_not_of(" `");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line.substr(1));
  std::string c;
  while (std::getline(ss, c, '|')) out.push_back(trim(c));
  return out;
}

/** README's policy table: policy name -> its cells after the name, in column order. */
std::map<std::string, std::vector<std::string>> readme_policy_table(std::vector<std::string>* header) {
  std::ifstream in(readme_path());
  std::map<std::string, std::vector<std::string>> rows;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("| policy | WB_SYNC_NONE", 0) == 0) {
      in_table = true;
      *header = cells(line);
      continue;
    }
    if (!in_table) continue;
    if (line.empty() || line[0] != '|') break;
    if (line.rfind("|---", 0) == 0) continue;
    std::vector<std::string> c = cells(line);
    const std::string name = c.front();
    c.erase(c.begin());
    rows[name] = c;
  }
  return rows;
}

const char* name(PinnedWrite w) {
  switch (w) {
    case PinnedWrite::write: return "write";
    case PinnedWrite::skip: return "skip";
    case PinnedWrite::wait: return "wait";
    case PinnedWrite::bounce: return "bounce";
    case PinnedWrite::write_unprotected: return "write_unprotected";
  }
  return "?";
}
const char* name(MkcleanPinned m) {
  switch (m) {
    case MkcleanPinned::clean: return "clean";
    case MkcleanPinned::skip: return "skip";
    case MkcleanPinned::wait: return "wait";
  }
  return "?";
}
const char* yes(bool b) { return b ? "yes" : "no"; }

TEST(WbPolicyTable, EveryRowIsWhatReadmeSaysFieldByField) {
  std::vector<std::string> header;
  const auto rows = readme_policy_table(&header);
  ASSERT_FALSE(rows.empty()) << "no policy table in " << readme_path();
  const std::vector<std::string> want_header = {"policy",           "WB_SYNC_NONE",       "WB_SYNC_ALL",
                                                "page_mkclean(false)", "reclaim keeps",   "try_to_unmap skips",
                                                "unpin re-dirties", "stable pages",       "truncate revokes",
                                                "acts on pins"};
  ASSERT_EQ(header, want_header) << "README's columns are the fields of WbPolicy, in order";
  EXPECT_EQ(rows.size(), std::size(kAllWritebackPolicies)) << "one README row per policy";
  for (WritebackPolicy p : kAllWritebackPolicies) {
    const WbPolicy& r = wb_policy_row(p);
    SCOPED_TRACE(r.name);
    auto it = rows.find(r.name);
    ASSERT_NE(it, rows.end()) << "README has no row for " << r.name;
    const std::vector<std::string> code = {name(r.sync_none),        name(r.sync_all),         name(r.mkclean),
                                           yes(r.reclaim_keeps_pinned), yes(r.unmap_skips_pinned), yes(r.unpin_redirties),
                                           yes(r.stable_pages),      yes(r.truncate_revokes),  yes(r.acts_on_pins)};
    ASSERT_EQ(it->second.size(), code.size());
    for (size_t i = 0; i < code.size(); i++) EXPECT_EQ(it->second[i], code[i]) << "column " << want_header[i + 1];
  }
}

// What holds between the fields, whatever a new row says.
TEST(WbPolicyTable, RowsAreConsistent) {
  for (WritebackPolicy p : kAllWritebackPolicies) {
    const WbPolicy& r = wb_policy_row(p);
    SCOPED_TRACE(r.name);
    EXPECT_EQ(parse_writeback_policy(r.name), p);
    // A mode that waits does it in page_mkclean(page, false).
    if (r.sync_all == PinnedWrite::wait || r.sync_none == PinnedWrite::wait) EXPECT_EQ(r.mkclean, MkcleanPinned::wait);
    if (!r.acts_on_pins) {
      EXPECT_EQ(r.sync_none, PinnedWrite::write);
      EXPECT_EQ(r.sync_all, PinnedWrite::write);
      EXPECT_EQ(r.mkclean, MkcleanPinned::clean);
      EXPECT_FALSE(r.reclaim_keeps_pinned || r.unmap_skips_pinned || r.unpin_redirties || r.stable_pages ||
                   r.truncate_revokes);
    }
    EXPECT_EQ(r.truncate_revokes, p == WritebackPolicy::revoke) << "only revoke revokes at truncate";
  }
}

// Seed 002 as posted, and the model's `wait`, which departs from it under WB_SYNC_NONE.
TEST(WbPolicyTable, Rfc002IsSeed002AsPostedAndWaitDepartsFromItInTheFlusher) {
  const WbPolicy& rfc = wb_policy_row(WritebackPolicy::rfc002);
  EXPECT_EQ(rfc.sync_none, PinnedWrite::write_unprotected) << "page_mkclean(page, true) skips; the page is written";
  EXPECT_EQ(rfc.sync_all, PinnedWrite::wait) << "skip_pinned_pages = (sync_mode != WB_SYNC_ALL)";
  EXPECT_EQ(rfc.mkclean, MkcleanPinned::wait) << "pagecache_isize_extended(): skip_pinned_pages = false";
  EXPECT_TRUE(rfc.unmap_skips_pinned) << "try_to_unmap_one() returns false for PageDmaPinned";
  EXPECT_FALSE(rfc.reclaim_keeps_pinned) << "the patch touches only try_to_unmap() in reclaim";
  const WbPolicy& wait = wb_policy_row(WritebackPolicy::wait);
  EXPECT_EQ(wait.sync_none, PinnedWrite::skip) << "the model's wait leaves a pinned page dirty and unwritten";
  EXPECT_EQ(wait.sync_all, PinnedWrite::wait);
}

TEST(WbPolicyTable, TheMachineComputesItsRowAtBootAndGetActsAsIgnore) {
  for (PinDesign d : kAllPinDesigns)
    for (WritebackPolicy p : kAllWritebackPolicies) {
      MachineConfig c;
      c.ram_bytes = 16ull << 20;
      c.pin_design = d;
      c.wb_policy = p;
      Machine m(c);
      const WritebackPolicy want = d == PinDesign::get ? WritebackPolicy::ignore : p;
      EXPECT_EQ(m.wb_effective_policy(), want) << to_string(d) << "/" << to_string(p);
      EXPECT_EQ(&m.wb(), &wb_policy_row(want));
      EXPECT_EQ(m.wb_policy(), p) << "the configured policy is still what was asked for";
    }
}

}  // namespace
}  // namespace guplab
