// The dynamic batcher's dispatch policy against synthetic arrival processes:
// a discrete-event simulation with injected time (no threads, no sleeps).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "scheduler/batch_queue.hpp"
#include "support/test_support.hpp"

namespace surge {
namespace {

using namespace std::chrono_literals;
using testing::make_request;

const clock::time_point t0{std::chrono::seconds(1000)};
using execution_time = std::function<clock::duration(std::size_t rows)>;

struct outcome {
  double mean_latency_us{0};
  double mean_batch_rows{0};
  std::size_t completed{0};
  // Polls that found an instance free and rows queued, and kept them waiting.
  std::size_t waits_with_instance_free{0};
  clock::duration longest_wait_while_free{0};
};

std::vector<clock::time_point> poisson(double per_second, std::size_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::exponential_distribution<double> gap(per_second);
  std::vector<clock::time_point> out;
  auto at = t0;
  for (std::size_t i = 0; i < count; ++i) {
    at += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(gap(random)));
    out.push_back(at);
  }
  return out;
}

// `burst` arrivals 1 us apart, every `period`.
std::vector<clock::time_point> bursts(std::size_t burst, clock::duration period, std::size_t count) {
  std::vector<clock::time_point> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(t0 + (i / burst) * period + (i % burst) * 1us);
  return out;
}

outcome simulate(batcher_options options, std::size_t instances, const std::vector<clock::time_point>& arrivals,
                 const execution_time& execute) {
  options.instances = instances;
  batch_queue queue(options);
  struct running {
    clock::time_point done;
    std::vector<clock::time_point> arrivals;
  };
  std::vector<std::optional<running>> busy(instances);
  auto wake_at = clock::time_point::max();  // max: no timer
  std::optional<clock::time_point> free_and_waiting_since;
  outcome out;
  double latency_sum = 0;
  std::size_t batches = 0, rows = 0, next = 0;
  std::vector<testing::made_request> keep;  // sinks outlive the requests
  while (out.completed < arrivals.size()) {
    auto now = clock::time_point::max();
    if (next < arrivals.size()) now = arrivals[next];
    for (const auto& b : busy) {
      if (b) now = std::min(now, b->done);
    }
    now = std::min(now, wake_at);
    wake_at = clock::time_point::max();
    for (auto& b : busy) {
      if (!b || b->done != now) continue;
      for (const auto& arrival : b->arrivals) {
        latency_sum += std::chrono::duration<double, std::micro>(now - arrival).count();
      }
      out.completed += b->arrivals.size();
      queue.record_execution(b->arrivals.size(), b->arrivals.size(), execute(b->arrivals.size()), now);
      b.reset();
    }
    while (next < arrivals.size() && arrivals[next] == now) {
      keep.push_back(make_request("r" + std::to_string(next), now));
      EXPECT_FALSE(queue.push(keep.back().request, now));
      ++next;
    }
    for (;;) {
      const auto free = std::find_if(busy.begin(), busy.end(), [](const auto& b) { return !b; });
      auto decision = queue.poll(now, free != busy.end());
      if (decision.wake_at && *decision.wake_at > now) wake_at = std::min(wake_at, *decision.wake_at);
      if (decision.batch.empty()) {
        if (free != busy.end() && queue.size() > 0) {
          ++out.waits_with_instance_free;
          if (!free_and_waiting_since) free_and_waiting_since = now;
          out.longest_wait_while_free = std::max(out.longest_wait_while_free, now - *free_and_waiting_since);
        }
        break;
      }
      free_and_waiting_since.reset();
      running r{now + execute(decision.batch.size()), {}};
      for (const auto& request : decision.batch) r.arrivals.push_back(request->arrival);
      ++batches;
      rows += decision.batch.size();
      *free = std::move(r);
    }
  }
  out.mean_latency_us = latency_sum / static_cast<double>(out.completed);
  out.mean_batch_rows = static_cast<double>(rows) / static_cast<double>(batches);
  return out;
}

batcher_options batching(std::uint32_t max_batch, std::chrono::microseconds delay) {
  batcher_options options;
  options.max_batch_size = max_batch;
  options.max_queue_delay = delay;
  return options;
}

// A CPU model: a fixed cost per batch plus a cost per row.
execution_time linear(clock::duration fixed, clock::duration per_row) {
  return [=](std::size_t rows) { return fixed + per_row * static_cast<std::int64_t>(rows); };
}

TEST(batch_queue_simulation, light_poisson_load_never_waits_for_a_batch_that_will_not_fill) {
  const auto execute = linear(100us, 5us);
  const auto arrivals = poisson(200, 2000, 1);
  const auto adaptive = simulate(batching(32, 2000us), 1, arrivals, execute);
  EXPECT_EQ(adaptive.completed, arrivals.size());
  EXPECT_EQ(adaptive.waits_with_instance_free, 0u) << "an idle instance was kept waiting at light load";
  EXPECT_LT(adaptive.mean_latency_us, 150.0) << "a fixed 2 ms delay would cost ~2,100 us";
}

TEST(batch_queue_simulation, at_every_poisson_rate_no_worse_than_dispatching_at_once) {
  const auto execute = linear(200us, 10us);
  for (const double rate : {100.0, 1000.0, 5000.0, 20000.0, 50000.0}) {
    const auto arrivals = poisson(rate, 20000, 7);
    const auto adaptive = simulate(batching(64, 2000us), 1, arrivals, execute);
    const auto at_once = simulate(batching(64, 0us), 1, arrivals, execute);
    EXPECT_EQ(adaptive.completed, arrivals.size());
    EXPECT_LE(adaptive.mean_latency_us, 1.1 * at_once.mean_latency_us + 20.0)
        << rate << " req/s: adaptive " << adaptive.mean_latency_us << " us, at once " << at_once.mean_latency_us;
    // Whatever it waits for, an idle instance never waits a whole batch's time.
    EXPECT_LE(adaptive.longest_wait_while_free, execute(64)) << rate << " req/s";
  }
}

TEST(batch_queue_simulation, heavy_load_forms_large_batches_and_keeps_up) {
  const auto execute = linear(200us, 10us);
  const auto arrivals = poisson(50000, 50000, 3);  // capacity at 64 rows: 76k rows/s
  const auto adaptive = simulate(batching(64, 2000us), 1, arrivals, execute);
  EXPECT_EQ(adaptive.completed, arrivals.size());
  EXPECT_GT(adaptive.mean_batch_rows, 16.0);
  EXPECT_LT(adaptive.mean_latency_us, 3000.0) << "a queue that keeps up";
}

TEST(batch_queue_simulation, several_instances_share_light_load_without_waiting) {
  const auto execute = linear(1000us, 10us);
  const auto arrivals = poisson(1500, 5000, 11);  // one instance alone would be busy 150% of the time at batch 1
  const auto adaptive = simulate(batching(16, 5000us), 4, arrivals, execute);
  EXPECT_EQ(adaptive.completed, arrivals.size());
  const auto at_once = simulate(batching(16, 0us), 4, arrivals, execute);
  EXPECT_LE(adaptive.mean_latency_us, 1.1 * at_once.mean_latency_us + 20.0);
}

TEST(batch_queue_simulation, bursts_with_flat_batch_cost_are_collected_not_split) {
  // A GPU-like model: a batch of 32 costs what a batch of 1 does.
  const execution_time flat = [](std::size_t) { return clock::duration(1ms); };
  const auto arrivals = bursts(32, 10ms, 32 * 50);
  const auto adaptive = simulate(batching(32, 2000us), 1, arrivals, flat);
  const auto at_once = simulate(batching(32, 0us), 1, arrivals, flat);
  EXPECT_EQ(adaptive.completed, arrivals.size());
  EXPECT_LE(adaptive.mean_latency_us, 1.1 * at_once.mean_latency_us + 20.0);
  EXPECT_LE(adaptive.longest_wait_while_free, clock::duration(1ms));
}

TEST(batch_queue_simulation, a_deep_queue_of_mixed_shapes_drains_in_order) {
  auto options = batching(8, 0us);
  options.admission.max_queue_size = 100000;
  batch_queue queue(options);
  std::vector<testing::made_request> made;
  for (int i = 0; i < 40000; ++i) {
    made.push_back(make_request(std::to_string(i), t0, 1, i % 2 == 0 ? 4 : 8));
    if (i % 1000 == 0) made.back().request->deadline = t0 + 1h;
    ASSERT_FALSE(queue.push(made.back().request, t0));
  }
  // While the instance is busy, polls cost nothing per queued request and drop nothing.
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(queue.poll(t0, false).batch.empty());
  std::size_t drained = 0;
  int last_even = -2, last_odd = -1;
  while (queue.size() > 0) {
    auto decision = queue.poll(t0 + 1ms, true);
    ASSERT_FALSE(decision.batch.empty());
    for (const auto& r : decision.batch) {
      const int id = std::stoi(r->id);
      auto& last = id % 2 == 0 ? last_even : last_odd;
      EXPECT_EQ(id, last + 2) << "each shape in arrival order";
      last = id;
    }
    drained += decision.batch.size();
  }
  EXPECT_EQ(drained, 40000u);
}

TEST(batch_queue_simulation, a_request_cancelled_deep_in_the_queue_leaves_it_while_the_instance_is_busy) {
  batch_queue queue(batching(8, 0us));
  std::vector<testing::made_request> made;
  cancellation_ptr deep;
  for (int i = 0; i < 400; ++i) {
    made.push_back(make_request(std::to_string(i), t0));
    if (i == 350) deep = made.back().request->cancellation;
    ASSERT_FALSE(queue.push(made.back().request, t0));
  }
  deep->cancel();
  // A bounded sweep per poll: 400 queued, found within 400 / 8 polls.
  for (int poll = 0; poll < 50; ++poll) {
    auto decision = queue.poll(t0, false);
    if (decision.cancelled.empty()) continue;
    ASSERT_EQ(decision.cancelled.size(), 1u);
    EXPECT_EQ(decision.cancelled.front()->id, "350");
    EXPECT_EQ(queue.size(), 399u);
    return;
  }
  FAIL() << "the cancelled request was never swept";
}

}  // namespace
}  // namespace surge
