// test_machine.h - test fixtures: a booted Machine with the test thread as its task,
// and the allocation-balance check every mm test ends with; run_on_sim() moves a test's
// body onto a sim-backend machine (virtual time: timing assertions are exact).
// Threading: one fixture per test thread.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "base/rcu.h"
#include "base/task.h"
#include "machine/machine.h"
#include "mm/page_alloc.h"

namespace guplab::testing {

inline MachineConfig small_config(PinDesign d = PinDesign::folio_pincount, uint64_t ram = 64ull << 20) {
  MachineConfig c;
  c.ram_bytes = ram;
  c.pin_design = d;
  return c;
}

/** A machine and a task scope on the test thread; checks balance at the end. */
class MachineTest : public ::testing::Test {
 protected:
  void boot(const MachineConfig& cfg) {
    machine_ = std::make_unique<Machine>(cfg);
    scope_ = std::make_unique<TaskScope>(machine_->task_init("test"));
  }
  void SetUp() override { boot(small_config()); }
  void TearDown() override {
    if (!machine_) return;
    if (!machine_->sim_result()) rcu_barrier();  // a sim run did it inside the run
    if (check_balance_ && !machine_->halted())
      EXPECT_EQ(nr_free_pages(machine_.get()), machine_->boot_free_pages()) << "pages leaked by the test";
    EXPECT_EQ(machine_->nr_oops(), 0u) << (machine_->nr_oops() ? machine_->oopses()[0].format() : "");
    scope_.reset();
    machine_.reset();
  }
  Machine& m() { return *machine_; }

  /**
   * run_on_sim() - replace the test's machine by a sim-backend one booted from @cfg with
   * @seed, and run @body (then rcu_barrier()) as its first task. Time there is virtual: a
   * sleep or a device latency takes exactly its time, whatever the host's load, so a test
   * may assert on it. TearDown's checks then look at the sim machine. Returns "" or the
   * sim run's report (deadlock picture, step limit).
   * REQUIRES: the test has made nothing on its native machine yet.
   */
  std::string run_on_sim(MachineConfig cfg, uint64_t seed, const std::function<void()>& body) {
    scope_.reset();
    machine_.reset();
    cfg.backend = Backend::sim;
    cfg.seed = seed;
    machine_ = std::make_unique<Machine>(cfg);
    machine_->run([&] {
      body();
      rcu_barrier();
    });
    return machine_->sim_result()->ok() ? "" : machine_->sim_result()->format();
  }

  std::unique_ptr<Machine> machine_;
  std::unique_ptr<TaskScope> scope_;
  bool check_balance_ = true;
};

}  // namespace guplab::testing
