#include "scheduler/batch_queue.hpp"

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace surge {
namespace {

using namespace std::chrono_literals;
using testing::make_request;

// A fixed origin: the policy only ever sees times the test passes in.
const clock::time_point t0{std::chrono::seconds(1000)};

std::vector<std::string> ids(const std::vector<request_ptr>& requests) {
  std::vector<std::string> out;
  for (const auto& r : requests) out.push_back(r->id);
  return out;
}

batcher_options batching(std::uint32_t max_batch, std::chrono::microseconds delay) {
  batcher_options options;
  options.max_batch_size = max_batch;
  options.max_queue_delay = delay;
  return options;
}

// Flat execution times: a batch of 8 costs what a batch of 1 does, so
// collecting rows that arrive close together pays.
void record_flat(batch_queue& queue, clock::duration each, clock::time_point at) {
  for (std::size_t rows = 1; rows <= 8; ++rows) queue.record_execution(rows, rows, each, at);
}

TEST(batch_queue, dispatches_at_once_while_nothing_says_waiting_pays) {
  batch_queue queue(batching(8, 1000us));
  for (int i = 0; i < 3; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  // No execution measured yet: max_queue_delay is a bound, not a cost.
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"r0", "r1", "r2"}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(batch_queue, waits_while_rows_arrive_close_together_never_past_max_queue_delay) {
  batch_queue queue(batching(8, 1000us));
  record_flat(queue, 3ms, t0 - 1s);
  std::vector<testing::made_request> made;
  // One arrival every 10 us: another row is due long before a batch's 3 ms.
  for (int i = 0; i < 3; ++i) {
    made.push_back(make_request("r" + std::to_string(i), t0 + i * 10us));
    ASSERT_FALSE(queue.push(made.back().request, t0 + i * 10us));
  }
  auto early = queue.poll(t0 + 20us, true);
  EXPECT_TRUE(early.batch.empty());
  ASSERT_TRUE(early.wake_at);
  EXPECT_LE(*early.wake_at, t0 + 1000us);
  // Arrivals keep coming (another shape, so this batch does not fill):
  // the wait ends at max_queue_delay after the oldest row.
  for (int i = 3; i < 120; ++i) {
    made.push_back(make_request("o" + std::to_string(i), t0 + i * 10us, 1, 9));
    ASSERT_FALSE(queue.push(made.back().request, t0 + i * 10us));
    const auto now = t0 + i * 10us;
    auto decision = queue.poll(now, true);
    if (!decision.batch.empty()) {
      // Within one arrival gap of max_queue_delay: the next row would come too late.
      EXPECT_GE(now, t0 + 990us) << "dispatched long before max_queue_delay while rows kept arriving";
      EXPECT_LE(now, t0 + 1000us);
      EXPECT_EQ(ids(decision.batch), (std::vector<std::string>{"r0", "r1", "r2"}));
      return;
    }
  }
  FAIL() << "never dispatched";
}

TEST(batch_queue, max_queue_delay_dispatch_holds_a_partial_batch_for_the_whole_delay) {
  auto options = batching(8, 1000us);
  options.wait_for_max_queue_delay = true;
  batch_queue queue(options);
  for (int i = 0; i < 3; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  auto early = queue.poll(t0 + 500us, true);
  EXPECT_TRUE(early.batch.empty());
  ASSERT_TRUE(early.wake_at);
  EXPECT_EQ(*early.wake_at, t0 + 1000us);
  EXPECT_EQ(ids(queue.poll(t0 + 1000us, true).batch), (std::vector<std::string>{"r0", "r1", "r2"}));
}

TEST(batch_queue, full_batch_dispatches_without_waiting) {
  batch_queue queue(batching(4, 10000us));
  record_flat(queue, 3ms, t0 - 1s);
  for (int i = 0; i < 6; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  auto first = queue.poll(t0, true);
  EXPECT_EQ(first.batch.size(), 4u);
  auto second = queue.poll(t0, true);
  EXPECT_TRUE(second.batch.empty()) << "two left, arrivals dense, waiting pays";
  EXPECT_EQ(queue.size(), 2u);
}

TEST(batch_queue, largest_preferred_size_dispatches_at_once) {
  auto options = batching(16, 10000us);
  options.preferred_batch_sizes = {2, 4};
  batch_queue queue(options);
  for (int i = 0; i < 5; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  auto decision = queue.poll(t0, true);
  EXPECT_EQ(decision.batch.size(), 4u);
}

TEST(batch_queue, rows_count_toward_the_batch_size) {
  batch_queue queue(batching(4, 0us));
  auto a = make_request("a", t0, 3);
  auto b = make_request("b", t0, 2);
  auto c = make_request("c", t0, 1);
  ASSERT_FALSE(queue.push(a.request, t0));
  ASSERT_FALSE(queue.push(b.request, t0));
  ASSERT_FALSE(queue.push(c.request, t0));
  // b (2 rows) does not fit beside a (3 rows); c does.
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"b"}));
}

TEST(batch_queue, no_batch_while_every_instance_is_busy) {
  batch_queue queue(batching(8, 0us));
  auto made = make_request("r", t0);
  ASSERT_FALSE(queue.push(made.request, t0));
  EXPECT_TRUE(queue.poll(t0, false).batch.empty());
  EXPECT_EQ(queue.poll(t0, true).batch.size(), 1u);
}

TEST(batch_queue, unbatched_model_runs_requests_one_at_a_time) {
  batch_queue queue(batching(0, 0us));
  for (int i = 0; i < 3; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"r0"}));
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"r1"}));
}

TEST(batch_queue, higher_priority_runs_first_and_leads_the_batch) {
  auto options = batching(2, 0us);
  options.priority_levels = 2;
  options.default_priority_level = 2;
  batch_queue queue(options);
  auto low1 = make_request("low1", t0, 1, 4, 2);
  auto low2 = make_request("low2", t0, 1, 4, 0);  // 0: the default level, 2
  auto high = make_request("high", t0 + 1us, 1, 4, 1);
  ASSERT_FALSE(queue.push(low1.request, t0));
  ASSERT_FALSE(queue.push(low2.request, t0));
  ASSERT_FALSE(queue.push(high.request, t0 + 1us));
  EXPECT_EQ(ids(queue.poll(t0 + 1us, true).batch), (std::vector<std::string>{"high", "low1"}));
  EXPECT_EQ(ids(queue.poll(t0 + 1us, true).batch), (std::vector<std::string>{"low2"}));
}

TEST(batch_queue, priority_out_of_range_is_refused) {
  auto options = batching(2, 0us);
  options.priority_levels = 2;
  batch_queue queue(options);
  auto made = make_request("r", t0, 1, 4, 3);
  auto refused = queue.push(made.request, t0);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, error_code::invalid_argument);
  EXPECT_NE(refused->message.find("priority 3"), std::string::npos);
  EXPECT_TRUE(made.request) << "a refused request stays with the caller";
}

TEST(batch_queue, full_queue_refuses_at_once_with_retry_after) {
  auto options = batching(4, 1000us);
  options.default_queue_policy.max_queue_size = 2;
  batch_queue queue(options);
  auto a = make_request("a", t0);
  auto b = make_request("b", t0);
  auto c = make_request("c", t0);
  ASSERT_FALSE(queue.push(a.request, t0));
  ASSERT_FALSE(queue.push(b.request, t0));
  auto refused = queue.push(c.request, t0);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, error_code::unavailable);
  ASSERT_TRUE(refused->retry_after);
  EXPECT_GE(refused->retry_after->count(), 1);
}

TEST(batch_queue, each_priority_level_has_its_own_queue_policy) {
  auto options = batching(4, 1000us);
  options.priority_levels = 2;
  options.default_priority_level = 2;
  options.default_queue_policy.max_queue_size = 1;
  options.level_queue_policies[1].max_queue_size = 2;
  options.level_queue_policies[1].reject_expired = false;
  batch_queue queue(options);
  auto high1 = make_request("high1", t0, 1, 4, 1);
  auto high2 = make_request("high2", t0, 1, 4, 1);
  auto high3 = make_request("high3", t0, 1, 4, 1);
  auto low1 = make_request("low1", t0, 1, 4, 2);
  auto low2 = make_request("low2", t0, 1, 4, 2);
  EXPECT_FALSE(queue.push(high1.request, t0));
  EXPECT_FALSE(queue.push(high2.request, t0));
  EXPECT_FALSE(queue.push(low1.request, t0)) << "level 2 has room of its own";
  EXPECT_TRUE(queue.push(high3.request, t0)) << "level 1 holds 2";
  EXPECT_TRUE(queue.push(low2.request, t0)) << "level 2 holds 1";

  // Level 1 delays expired requests; level 2 (the default policy) rejects them.
  queue.poll(t0, false);
  EXPECT_EQ(queue.size(), 3u);
}

TEST(batch_queue, expiry_follows_the_level_policy) {
  auto options = batching(4, 0us);
  options.priority_levels = 2;
  options.level_queue_policies[1].reject_expired = false;
  batch_queue queue(options);
  auto kept = make_request("kept", t0, 1, 4, 1);
  auto dropped = make_request("dropped", t0, 1, 4, 2);
  kept.request->deadline = t0 + 1us;
  dropped.request->deadline = t0 + 1us;
  ASSERT_FALSE(queue.push(kept.request, t0));
  ASSERT_FALSE(queue.push(dropped.request, t0));
  auto decision = queue.poll(t0 + 1ms, true);
  EXPECT_EQ(ids(decision.expired), (std::vector<std::string>{"dropped"}));
  EXPECT_EQ(ids(decision.batch), (std::vector<std::string>{"kept"}));
}

TEST(batch_queue, retry_after_follows_queue_length_over_drain_rate) {
  auto options = batching(1, 0us);
  batch_queue queue(options);
  for (int i = 0; i < 30; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  // Ten requests per second drain while the queue is backlogged.
  for (int i = 0; i <= 10; ++i) queue.record_execution(1, 1, 1ms, t0 + i * 100ms);
  EXPECT_EQ(queue.retry_after().count(), 3);
}

TEST(batch_queue, drain_rate_is_only_measured_while_backlogged) {
  batch_queue queue(batching(1, 0us));
  // An idle model completing a request every 100 ms is not a slow model:
  // its completions follow arrivals. Its measured execution times are used.
  for (int i = 0; i <= 10; ++i) queue.record_execution(1, 1, 1ms, t0 + i * 100ms);
  for (int i = 0; i < 30; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  ASSERT_TRUE(queue.predicted_wait(30));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*queue.predicted_wait(30)).count(), 30);
  EXPECT_EQ(queue.retry_after().count(), 1);
}

TEST(batch_queue, refuses_a_request_its_queue_cannot_reach_before_the_deadline) {
  batch_queue queue(batching(1, 0us));
  for (int i = 0; i < 50; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  // 100 rows per second drain: 50 queued ahead means 500 ms of waiting.
  for (int i = 0; i <= 10; ++i) queue.record_execution(1, 1, 1ms, t0 + i * 10ms);
  auto hurried = make_request("hurried", t0);
  hurried.request->deadline = t0 + 100ms;
  auto refused = queue.push(hurried.request, t0);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, error_code::unavailable);
  EXPECT_NE(refused->message.find("overloaded"), std::string::npos) << refused->message;
  EXPECT_NE(refused->message.find("500 ms"), std::string::npos) << refused->message;
  ASSERT_TRUE(refused->retry_after);
  EXPECT_TRUE(hurried.request) << "a refused request stays with the caller";

  auto patient = make_request("patient", t0);
  patient.request->deadline = t0 + 1s;
  EXPECT_FALSE(queue.push(patient.request, t0));
}

TEST(batch_queue, a_request_without_deadline_is_bounded_by_max_queue_wait) {
  auto options = batching(1, 0us);
  options.admission.max_queue_wait = 200ms;
  batch_queue queue(options);
  for (int i = 0; i < 30; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  for (int i = 0; i <= 10; ++i) queue.record_execution(1, 1, 1ms, t0 + i * 10ms);
  auto late = make_request("late", t0);
  auto refused = queue.push(late.request, t0);
  ASSERT_TRUE(refused) << "300 ms predicted against a 200 ms limit";
  EXPECT_NE(refused->message.find("queue wait limit"), std::string::npos) << refused->message;
}

TEST(batch_queue, higher_priority_is_admitted_past_a_lower_levels_backlog) {
  auto options = batching(1, 0us);
  options.priority_levels = 2;
  options.default_priority_level = 2;
  batch_queue queue(options);
  for (int i = 0; i < 50; ++i) {
    auto made = make_request("low" + std::to_string(i), t0, 1, 4, 2);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  for (int i = 0; i <= 10; ++i) queue.record_execution(1, 1, 1ms, t0 + i * 10ms);
  auto high = make_request("high", t0, 1, 4, 1);
  high.request->deadline = t0 + 100ms;
  EXPECT_FALSE(queue.push(high.request, t0)) << "nothing queued ahead of it at level 1";
  auto low = make_request("low", t0, 1, 4, 2);
  low.request->deadline = t0 + 100ms;
  EXPECT_TRUE(queue.push(low.request, t0));
}

TEST(batch_queue, an_unbatched_model_drains_requests_not_their_first_dimension) {
  batch_queue queue(batching(0, 0us));
  for (int i = 0; i < 50; ++i) {
    auto made = make_request("r" + std::to_string(i), t0, 16);  // dim 0 of a full shape, not rows
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  // One request every 10 ms: 100 requests per second, whatever its shape.
  for (int i = 0; i <= 10; ++i) queue.record_execution(16, 1, 10ms, t0 + i * 10ms);
  ASSERT_TRUE(queue.predicted_wait(50));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*queue.predicted_wait(50)).count(), 500);
}

TEST(batch_queue, the_whole_queue_has_a_bound_for_every_model) {
  auto options = batching(0, 0us);  // a model that does not batch
  options.admission.max_queue_size = 3;
  batch_queue queue(options);
  std::vector<testing::made_request> made;
  for (int i = 0; i < 4; ++i) made.push_back(make_request("r" + std::to_string(i), t0));
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(queue.push(made[i].request, t0));
  auto refused = queue.push(made[3].request, t0);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, error_code::unavailable);
  EXPECT_NE(refused->message.find("queue is full (3 requests)"), std::string::npos) << refused->message;

  batch_queue defaulted(batching(0, 0us));
  EXPECT_EQ(defaulted.options().admission.max_queue_size, 0u) << "0: admission_options::default_max_queue_size";
}

TEST(batch_queue, expired_requests_are_answered_and_never_batched) {
  batch_queue queue(batching(8, 0us));
  auto expiring = make_request("expiring", t0);
  expiring.request->deadline = t0 + 100us;
  auto fine = make_request("fine", t0);
  ASSERT_FALSE(queue.push(expiring.request, t0));
  ASSERT_FALSE(queue.push(fine.request, t0));
  // While busy, the queue asks to be woken at the deadline.
  auto busy = queue.poll(t0, false);
  ASSERT_TRUE(busy.wake_at);
  EXPECT_EQ(*busy.wake_at, t0 + 100us);

  auto later = queue.poll(t0 + 100us, true);
  EXPECT_EQ(ids(later.expired), (std::vector<std::string>{"expiring"}));
  EXPECT_EQ(ids(later.batch), (std::vector<std::string>{"fine"}));
}

TEST(batch_queue, delay_timeout_action_keeps_expired_requests) {
  auto options = batching(8, 0us);
  options.default_queue_policy.reject_expired = false;
  batch_queue queue(options);
  auto late = make_request("late", t0);
  late.request->deadline = t0 + 1us;
  ASSERT_FALSE(queue.push(late.request, t0));
  auto decision = queue.poll(t0 + 1ms, true);
  EXPECT_TRUE(decision.expired.empty());
  EXPECT_EQ(ids(decision.batch), (std::vector<std::string>{"late"}));
}

TEST(batch_queue, cancelled_while_queued_is_dropped_before_it_runs) {
  batch_queue queue(batching(8, 0us));
  auto gone = make_request("gone", t0);
  auto stays = make_request("stays", t0);
  gone.request->cancellation->cancel();
  ASSERT_FALSE(queue.push(gone.request, t0));
  ASSERT_FALSE(queue.push(stays.request, t0));
  auto decision = queue.poll(t0, true);
  EXPECT_EQ(ids(decision.cancelled), (std::vector<std::string>{"gone"}));
  EXPECT_EQ(ids(decision.batch), (std::vector<std::string>{"stays"}));
}

TEST(batch_queue, dispatches_early_when_waiting_would_miss_a_deadline) {
  batch_queue queue(batching(8, 10000us));
  record_flat(queue, 3ms, t0 - 1s);
  std::vector<testing::made_request> made;
  made.push_back(make_request("a", t0));
  made.push_back(make_request("b", t0));
  made.back().request->deadline = t0 + 5ms;
  ASSERT_FALSE(queue.push(made[0].request, t0));
  ASSERT_FALSE(queue.push(made[1].request, t0));
  // Rows of another shape keep arriving, so waiting keeps looking worth it;
  // the latest start is the deadline minus 3 ms of execution.
  for (int i = 1; i < 1000; ++i) {
    const auto now = t0 + i * 10us;
    made.push_back(make_request("o" + std::to_string(i), now, 1, 9));
    ASSERT_FALSE(queue.push(made.back().request, now));
    auto decision = queue.poll(now, true);
    if (decision.batch.empty()) {
      ASSERT_TRUE(decision.wake_at);
      EXPECT_LE(*decision.wake_at, t0 + 2ms);
      continue;
    }
    EXPECT_EQ(now, t0 + 2ms) << "dispatched 8 ms before max_queue_delay would have";
    EXPECT_EQ(ids(decision.batch), (std::vector<std::string>{"a", "b"}));
    return;
  }
  FAIL() << "never dispatched";
}

TEST(batch_queue, shapes_that_cannot_share_a_batch_are_batched_apart) {
  batch_queue queue(batching(8, 0us));
  auto narrow1 = make_request("narrow1", t0, 1, 4);
  auto wide = make_request("wide", t0, 1, 8);
  auto narrow2 = make_request("narrow2", t0, 1, 4);
  ASSERT_FALSE(queue.push(narrow1.request, t0));
  ASSERT_FALSE(queue.push(wide.request, t0));
  ASSERT_FALSE(queue.push(narrow2.request, t0));
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"narrow1", "narrow2"}));
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"wide"}));
}

TEST(batch_queue, a_ragged_input_does_not_split_groups_by_its_other_dims) {
  auto options = batching(8, 0us);
  options.ragged_inputs = {"INPUT0"};
  batch_queue queue(options);
  auto short1 = make_request("short", t0, 1, 4);
  auto long1 = make_request("long", t0, 1, 9);
  auto two_rows = make_request("two_rows", t0, 2, 7);
  ASSERT_FALSE(queue.push(short1.request, t0));
  ASSERT_FALSE(queue.push(long1.request, t0));
  ASSERT_FALSE(queue.push(two_rows.request, t0));
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"short", "long", "two_rows"}));
}

TEST(batch_queue, a_ragged_input_still_keeps_apart_ranks_types_and_other_inputs) {
  auto options = batching(8, 0us);
  options.ragged_inputs = {"INPUT0"};
  batch_queue queue(options);
  auto plain = make_request("plain", t0, 1, 4);
  auto rank3 = make_request("rank3", t0);
  rank3.request->inputs[0] = testing::fp32_tensor("INPUT0", {1, 2, 2}, 0.0f);
  auto with_fixed = make_request("with_fixed", t0, 1, 5);
  with_fixed.request->inputs.push_back(testing::fp32_tensor("FIXED", {1, 3}, 0.0f));
  auto with_other_fixed = make_request("with_other_fixed", t0, 1, 6);
  with_other_fixed.request->inputs.push_back(testing::fp32_tensor("FIXED", {1, 4}, 0.0f));
  auto plain2 = make_request("plain2", t0, 1, 8);
  for (auto* made : {&plain, &rank3, &with_fixed, &with_other_fixed, &plain2}) {
    ASSERT_FALSE(queue.push(made->request, t0));
  }
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"plain", "plain2"}));
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"rank3"}));
  // FIXED is not ragged: its width still keeps requests apart.
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"with_fixed"}));
  EXPECT_EQ(ids(queue.poll(t0, true).batch), (std::vector<std::string>{"with_other_fixed"}));
}

TEST(execution_time_model, estimates_from_nearest_measured_size) {
  execution_time_model model;
  EXPECT_EQ(model.estimate(4), clock::duration::zero());
  model.record(8, 8ms);
  EXPECT_EQ(model.estimate(4), std::chrono::duration_cast<clock::duration>(8ms));
  EXPECT_EQ(model.estimate(16), std::chrono::duration_cast<clock::duration>(16ms)) << "scaled linearly";
}

}  // namespace
}  // namespace surge
