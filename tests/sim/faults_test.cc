// faults_test.cc - buggify sites and spurious wakeups: seeded, with the stated rates.
#include "sim/faults.h"

#include <gtest/gtest.h>

#include <string>

namespace guplab {
namespace {

TEST(FaultInjector, OffUnlessAsked) {
  SimOptions o;
  FaultInjector f(1, o);
  for (int i = 0; i < 1000; i++) {
    EXPECT_FALSE(f.buggify("site"));
    EXPECT_FALSE(f.spurious_wakeup());
  }
  EXPECT_EQ(f.buggify_fired(), 0u);
}

TEST(FaultInjector, AboutAQuarterOfSitesAreEnabledPerRun) {
  SimOptions o;
  o.buggify = true;
  FaultInjector f(7, o), same(7, o), other(8, o);
  int enabled = 0, differ = 0;
  for (int i = 0; i < 2000; i++) {
    std::string site = "site_" + std::to_string(i);
    enabled += f.site_enabled(site.c_str());
    EXPECT_EQ(f.site_enabled(site.c_str()), same.site_enabled(site.c_str()));
    differ += f.site_enabled(site.c_str()) != other.site_enabled(site.c_str());
  }
  EXPECT_GT(enabled, 400);
  EXPECT_LT(enabled, 600);
  EXPECT_GT(differ, 400);  // another seed enables other sites
}

TEST(FaultInjector, ADisabledSiteNeverFires) {
  SimOptions o;
  o.buggify = true;
  FaultInjector f(3, o);
  std::string site;
  for (int i = 0; f.site_enabled((site = "s" + std::to_string(i)).c_str()); i++) {
  }
  for (int i = 0; i < 1000; i++) EXPECT_FALSE(f.buggify(site.c_str()));
}

TEST(FaultInjector, AnEnabledSiteFiresAboutAQuarterOfTheTime) {
  SimOptions o;
  o.buggify = true;
  FaultInjector f(3, o);
  std::string site;
  for (int i = 0; !f.site_enabled((site = "s" + std::to_string(i)).c_str()); i++) {
  }
  int fired = 0;
  for (int i = 0; i < 4000; i++) fired += f.buggify(site.c_str());
  EXPECT_GT(fired, 850);
  EXPECT_LT(fired, 1150);
  EXPECT_EQ(f.buggify_fired(), static_cast<uint64_t>(fired));
}

TEST(FaultInjector, SpuriousWakeupsAtTheirRate) {
  SimOptions o;
  o.spurious_wakeup_p = 0.1;
  FaultInjector f(5, o);
  int n = 0;
  for (int i = 0; i < 10000; i++) n += f.spurious_wakeup();
  EXPECT_GT(n, 850);
  EXPECT_LT(n, 1150);
  EXPECT_EQ(f.spurious_wakeups(), static_cast<uint64_t>(n));
}

TEST(FaultInjector, ADisarmedRunFiresNothingUntilArmed) {
  SimOptions o;
  o.buggify = true;
  o.buggify_fire_p = 1.0;
  o.buggify_site_p = 1.0;
  o.buggify_armed = false;
  FaultInjector f(5, o);
  for (int i = 0; i < 100; i++) EXPECT_FALSE(f.buggify("site"));
  EXPECT_FALSE(f.armed());
  f.arm(true);
  EXPECT_TRUE(f.buggify("site"));
  f.arm(false);
  EXPECT_FALSE(f.buggify("site"));
  EXPECT_EQ(f.buggify_fired(), 1u);
}

TEST(FaultInjector, BuggifyAlsoInjectsSpuriousWakeupsInSomeRuns) {
  SimOptions o;
  o.buggify = true;
  int runs_with = 0;
  for (uint64_t seed = 0; seed < 200; seed++) {
    FaultInjector f(seed, o);
    bool any = false;
    for (int i = 0; i < 200; i++) any |= f.spurious_wakeup();
    runs_with += any;
  }
  EXPECT_GT(runs_with, 20);   // the site is on in about a quarter of the runs
  EXPECT_LT(runs_with, 100);
}

}  // namespace
}  // namespace guplab
