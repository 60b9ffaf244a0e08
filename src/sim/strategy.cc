// strategy.cc - random walk, PCT and replay.
#include "sim/strategy.h"
#include "base/bug.h"

#include <algorithm>

namespace guplab {

namespace {
// Salt that separates the strategy's stream from the run's other streams.
constexpr uint64_t kStrategySalt = 0x9c1f'3a57'00d1'e5a1ull;
}  // namespace

Pct::Pct(uint64_t seed, unsigned depth, uint64_t steps) : rng_(seed) {
  GUPLAB_CHECK(depth >= 1 && steps >= 1);
  // k_1..k_{d-1}, applied in step order.
  for (unsigned i = 1; i < depth; i++) change_steps_.push_back(1 + rng_.uniform(steps));
  std::sort(change_steps_.begin(), change_steps_.end());
}

void Pct::on_task_created(SimChoice id) {
  GUPLAB_CHECK(id == prio_.size());
  // Random and (with overwhelming probability) distinct; ties go to the lower id.
  prio_.push_back(kInitialBand + (rng_.next_u64() >> 1));
}

void Pct::on_step(SimChoice id, uint64_t step, SchedPoint why) {
  while (next_change_ < change_steps_.size() && change_steps_[next_change_] <= step) {
    prio_.at(id) = next_low_--;
    next_change_++;
  }
  if (why == SchedPoint::kYield) prio_.at(id) = next_low_--;
}

SimChoice Pct::pick(std::span<const SimChoice> runnable) {
  GUPLAB_CHECK(runnable.size() >= 2);
  SimChoice best = runnable[0];
  for (SimChoice id : runnable)
    if (prio_.at(id) > prio_.at(best)) best = id;
  return best;
}

SimChoice Replay::pick(std::span<const SimChoice> runnable) {
  GUPLAB_CHECK(runnable.size() >= 2);
  if (pos_ < choices_.size()) {
    SimChoice want = choices_[pos_++];
    if (std::binary_search(runnable.begin(), runnable.end(), want)) return want;
  }
  diverged_ = true;
  return runnable[0];
}

std::unique_ptr<SchedStrategy> make_strategy(const SimOptions& opts, uint64_t seed) {
  uint64_t x = seed ^ kStrategySalt;
  const uint64_t s = Random::splitmix64(x);
  switch (opts.strategy) {
    case SimStrategy::random: return std::make_unique<RandomWalk>(s);
    case SimStrategy::pct: return std::make_unique<Pct>(s, opts.pct_depth, opts.pct_steps);
    case SimStrategy::replay: return std::make_unique<Replay>(opts.replay);
  }
  return std::make_unique<RandomWalk>(s);
}

}  // namespace guplab
