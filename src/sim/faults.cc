// faults.cc - buggify site selection and fault draws.
#include "sim/faults.h"

namespace guplab {

namespace {
constexpr uint64_t kFaultSalt = 0xfa17'0b06'61f7'0001ull;

uint64_t hash_site(const char* s) {  // FNV-1a
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
  return h;
}

double unit(uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }
}  // namespace

FaultInjector::FaultInjector(uint64_t seed, const SimOptions& opts)
    : seed_(seed),
      rng_(seed ^ kFaultSalt),
      buggify_on_(opts.buggify),
      armed_(opts.buggify_armed),
      site_p_(opts.buggify_site_p),
      fire_p_(opts.buggify_fire_p),
      spurious_p_(opts.spurious_wakeup_p) {}

bool FaultInjector::site_enabled(const char* site) const {
  uint64_t x = seed_ ^ hash_site(site);
  return unit(Random::splitmix64(x)) < site_p_;
}

bool FaultInjector::buggify(const char* site) {
  if (!buggify_on_ || !armed_ || !site_enabled(site)) return false;
  if (!rng_.chance(fire_p_)) return false;
  buggify_fired_++;
  return true;
}

bool FaultInjector::spurious_wakeup() {
  // Spurious wakeups come from SimOptions::spurious_wakeup_p, or, with buggify, from the
  // "futex:spurious_wakeup" site (on in some runs, then firing at a quarter of fire_p).
  const bool fire = (spurious_p_ > 0.0 && rng_.chance(spurious_p_)) ||
                    (buggify_on_ && armed_ && site_enabled("futex:spurious_wakeup") && rng_.chance(fire_p_ / 4));
  if (!fire) return false;
  spurious_++;
  return true;
}

}  // namespace guplab
