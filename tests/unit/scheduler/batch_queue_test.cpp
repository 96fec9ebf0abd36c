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

TEST(batch_queue, waits_for_max_queue_delay_then_dispatches_what_it_has) {
  batch_queue queue(batching(8, 1000us));
  for (int i = 0; i < 3; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  auto early = queue.poll(t0 + 500us, true);
  EXPECT_TRUE(early.batch.empty());
  ASSERT_TRUE(early.wake_at);
  EXPECT_EQ(*early.wake_at, t0 + 1000us);

  auto due = queue.poll(t0 + 1000us, true);
  EXPECT_EQ(ids(due.batch), (std::vector<std::string>{"r0", "r1", "r2"}));
  EXPECT_EQ(queue.size(), 0u);
}

TEST(batch_queue, full_batch_dispatches_without_waiting) {
  batch_queue queue(batching(4, 10000us));
  for (int i = 0; i < 6; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  auto first = queue.poll(t0, true);
  EXPECT_EQ(first.batch.size(), 4u);
  auto second = queue.poll(t0, true);
  EXPECT_TRUE(second.batch.empty()) << "two left, not full, delay not over";
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
  // Ten requests per second drain: one request every 100 ms.
  for (int i = 0; i <= 10; ++i) queue.record_execution(1, 1, 1ms, t0 + i * 100ms);
  for (int i = 0; i < 30; ++i) {
    auto made = make_request("r" + std::to_string(i), t0);
    ASSERT_FALSE(queue.push(made.request, t0));
  }
  EXPECT_EQ(queue.retry_after().count(), 3);
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
  // Batches of two have been taking 3 ms.
  queue.record_execution(2, 2, 3ms, t0 - 1s);
  auto a = make_request("a", t0);
  auto b = make_request("b", t0);
  b.request->deadline = t0 + 5ms;
  ASSERT_FALSE(queue.push(a.request, t0));
  ASSERT_FALSE(queue.push(b.request, t0));

  auto waiting = queue.poll(t0, true);
  EXPECT_TRUE(waiting.batch.empty());
  ASSERT_TRUE(waiting.wake_at);
  EXPECT_EQ(*waiting.wake_at, t0 + 2ms) << "latest start: deadline 5 ms minus 3 ms of execution";

  auto due = queue.poll(t0 + 2ms, true);
  EXPECT_EQ(due.batch.size(), 2u) << "dispatched 8 ms before max_queue_delay would have";
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

TEST(execution_time_model, estimates_from_nearest_measured_size) {
  execution_time_model model;
  EXPECT_EQ(model.estimate(4), clock::duration::zero());
  model.record(8, 8ms);
  EXPECT_EQ(model.estimate(4), std::chrono::duration_cast<clock::duration>(8ms));
  EXPECT_EQ(model.estimate(16), std::chrono::duration_cast<clock::duration>(16ms)) << "scaled linearly";
}

}  // namespace
}  // namespace surge
