#include "generation/sequence_policy.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace surge {
namespace {

using indices = std::vector<std::size_t>;

sequence_policy_options options(std::uint32_t max_running, std::uint32_t max_tokens_per_step = 2048,
                                bool static_batching = false) {
  return {max_running, max_tokens_per_step, static_batching};
}

TEST(sequence_policy, nothing_waiting_plans_nothing) {
  const std::vector<running_sequence> running{{1, 0}};
  const auto plan = plan_step(options(4), {}, running);
  EXPECT_TRUE(plan.admit.empty());
  EXPECT_TRUE(plan.preempt.empty());
}

TEST(sequence_policy, admits_as_many_as_there_are_free_slots) {
  const std::vector<waiting_sequence> waiting{{1, 3, 10}, {1, 4, 10}, {1, 5, 10}, {1, 6, 10}};
  const std::vector<running_sequence> running{{1, 0}, {1, 1}};
  const auto plan = plan_step(options(4), waiting, running);
  EXPECT_EQ(plan.admit, (indices{0, 1}));
  EXPECT_TRUE(plan.preempt.empty());
}

TEST(sequence_policy, admits_in_queue_order) {
  // Sorted by (level, order) as the scheduler hands them over: FIFO within a level.
  const std::vector<waiting_sequence> waiting{{1, 7, 5}, {1, 9, 5}, {2, 2, 5}, {2, 8, 5}};
  const auto plan = plan_step(options(3), waiting, {});
  EXPECT_EQ(plan.admit, (indices{0, 1, 2}));
}

TEST(sequence_policy, no_free_slot_and_no_lower_priority_admits_nothing) {
  const std::vector<waiting_sequence> waiting{{1, 5, 1}};
  const std::vector<running_sequence> running{{1, 0}, {1, 1}};
  const auto plan = plan_step(options(2), waiting, running);
  EXPECT_TRUE(plan.admit.empty());
  EXPECT_TRUE(plan.preempt.empty());
}

TEST(sequence_policy, token_budget_limits_admission) {
  // Budget 100 - 2 running = 98: 40 + 40 fit, the third 40 does not.
  const std::vector<waiting_sequence> waiting{{1, 2, 40}, {1, 3, 40}, {1, 4, 40}};
  const std::vector<running_sequence> running{{1, 0}, {1, 1}};
  const auto plan = plan_step(options(8, 100), waiting, running);
  EXPECT_EQ(plan.admit, (indices{0, 1}));
}

TEST(sequence_policy, running_sequences_count_against_the_budget) {
  // 10 - 3 running leaves 7: a prompt of 8 waits.
  const std::vector<waiting_sequence> waiting{{1, 3, 8}};
  const std::vector<running_sequence> running{{1, 0}, {1, 1}, {1, 2}};
  EXPECT_TRUE(plan_step(options(8, 10), waiting, running).admit.empty());
  const std::vector<waiting_sequence> fits{{1, 3, 7}};
  EXPECT_EQ(plan_step(options(8, 10), fits, running).admit, (indices{0}));
}

TEST(sequence_policy, stops_at_the_first_that_does_not_fit) {
  // The long prompt is not overtaken by the short one behind it.
  const std::vector<waiting_sequence> waiting{{1, 1, 10}, {1, 2, 500}, {1, 3, 10}};
  const auto plan = plan_step(options(8, 100), waiting, {});
  EXPECT_EQ(plan.admit, (indices{0}));
}

TEST(sequence_policy, a_prompt_over_the_budget_is_admitted_alone) {
  const std::vector<waiting_sequence> waiting{{1, 0, 5000}, {1, 1, 10}};
  const auto plan = plan_step(options(8, 100), waiting, {});
  EXPECT_EQ(plan.admit, (indices{0}));
}

TEST(sequence_policy, a_prompt_over_the_budget_waits_while_others_run) {
  const std::vector<waiting_sequence> waiting{{1, 5, 5000}};
  const std::vector<running_sequence> running{{1, 0}};
  EXPECT_TRUE(plan_step(options(8, 100), waiting, running).admit.empty());
}

TEST(sequence_policy, at_least_one_slot_even_when_max_running_is_zero) {
  const std::vector<waiting_sequence> waiting{{1, 0, 1}, {1, 1, 1}};
  EXPECT_EQ(plan_step(options(0), waiting, {}).admit, (indices{0}));
}

TEST(sequence_policy, higher_priority_preempts_the_lowest_priority_latest_admitted) {
  const std::vector<waiting_sequence> waiting{{1, 10, 5}};
  // Two of level 3: the later one (order 4) goes; level 2 is spared.
  const std::vector<running_sequence> running{{3, 1}, {2, 2}, {3, 4}, {3, 3}};
  const auto plan = plan_step(options(4), waiting, running);
  EXPECT_EQ(plan.preempt, (indices{2}));
  EXPECT_EQ(plan.admit, (indices{0}));
}

TEST(sequence_policy, preempts_one_victim_per_admitted_sequence) {
  const std::vector<waiting_sequence> waiting{{1, 10, 5}, {1, 11, 5}, {1, 12, 5}};
  const std::vector<running_sequence> running{{2, 1}, {1, 2}, {2, 3}};
  const auto plan = plan_step(options(3), waiting, running);
  // Latest admitted of the lowest level first; the level-1 sequence stays.
  EXPECT_EQ(plan.preempt, (indices{2, 0}));
  EXPECT_EQ(plan.admit, (indices{0, 1}));
}

TEST(sequence_policy, no_preemption_of_equal_priority) {
  const std::vector<waiting_sequence> waiting{{2, 10, 5}};
  const std::vector<running_sequence> running{{2, 1}, {2, 2}};
  const auto plan = plan_step(options(2), waiting, running);
  EXPECT_TRUE(plan.preempt.empty());
  EXPECT_TRUE(plan.admit.empty());
}

TEST(sequence_policy, no_preemption_of_higher_priority) {
  const std::vector<waiting_sequence> waiting{{3, 10, 5}};
  const std::vector<running_sequence> running{{1, 1}, {2, 2}};
  const auto plan = plan_step(options(2), waiting, running);
  EXPECT_TRUE(plan.preempt.empty());
  EXPECT_TRUE(plan.admit.empty());
}

TEST(sequence_policy, fills_free_slots_before_preempting) {
  const std::vector<waiting_sequence> waiting{{1, 10, 5}, {1, 11, 5}};
  const std::vector<running_sequence> running{{2, 1}};
  const auto plan = plan_step(options(2), waiting, running);
  EXPECT_EQ(plan.admit, (indices{0, 1}));
  EXPECT_EQ(plan.preempt, (indices{0}));  // only the second needed a slot
}

TEST(sequence_policy, preemption_respects_the_token_budget) {
  // Budget 20 - 1 running = 19; the victim frees one more: 20 >= 15 fits, 30 does not.
  const std::vector<running_sequence> running{{2, 1}};
  const std::vector<waiting_sequence> fits{{1, 5, 15}};
  EXPECT_EQ(plan_step(options(1, 20), fits, running).preempt, (indices{0}));
  const std::vector<waiting_sequence> too_long{{1, 5, 30}};
  const auto plan = plan_step(options(1, 20), too_long, running);
  EXPECT_TRUE(plan.preempt.empty());
  EXPECT_TRUE(plan.admit.empty());
}

TEST(sequence_policy, static_batching_admits_only_when_nothing_runs) {
  const std::vector<waiting_sequence> waiting{{1, 5, 5}, {1, 6, 5}, {1, 7, 5}};
  const std::vector<running_sequence> running{{2, 0}};
  // Something runs: nothing is admitted, not even by preemption.
  const auto busy = plan_step(options(4, 2048, true), waiting, running);
  EXPECT_TRUE(busy.admit.empty());
  EXPECT_TRUE(busy.preempt.empty());
  // Nothing runs: a whole group up to max_running.
  const auto idle = plan_step(options(2, 2048, true), waiting, {});
  EXPECT_EQ(idle.admit, (indices{0, 1}));
  EXPECT_TRUE(idle.preempt.empty());
}

}  // namespace
}  // namespace surge
