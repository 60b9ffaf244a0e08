// test_machine.h - test fixtures: a booted Machine with the test thread as its task,
// and the allocation-balance check every mm test ends with.
// Threading: one fixture per test thread.
#pragma once
#include <gtest/gtest.h>

#include <memory>

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
    rcu_barrier();
    if (check_balance_ && !machine_->halted())
      EXPECT_EQ(nr_free_pages(machine_.get()), machine_->boot_free_pages()) << "pages leaked by the test";
    EXPECT_EQ(machine_->nr_oops(), 0u) << (machine_->nr_oops() ? machine_->oopses()[0].format() : "");
    scope_.reset();
    machine_.reset();
  }
  Machine& m() { return *machine_; }

  std::unique_ptr<Machine> machine_;
  std::unique_ptr<TaskScope> scope_;
  bool check_balance_ = true;
};

}  // namespace guplab::testing
