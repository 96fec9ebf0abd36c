// model_scheduler's drain and join: the queue keeps running while admission
// is closed, a deadline answers what is left, and drain may be called from a
// sink the scheduler is answering or from any I/O thread without blocking it.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "scheduler/model_scheduler.hpp"
#include "support/held_instance.hpp"
#include "support/test_support.hpp"

namespace surge {
namespace {

using namespace std::chrono_literals;
using testing::make_request;
using testing::recording_sink;

constexpr auto wait_limit = 10s;

using testing::held_instance;

// A drain's callback, waited for without polling.
class drained_flag {
 public:
  std::function<void()> callback() {
    return [this] {
      // Notified under the lock: the waiter may destroy this flag as soon as it wakes.
      std::lock_guard lock(mutex_);
      ++calls_;
      changed_.notify_all();
    };
  }
  bool wait() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, wait_limit, [this] { return calls_ > 0; });
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int calls_{0};
};

struct fixture {
  explicit fixture(std::uint32_t max_batch_size = 1) {
    batcher_options options;
    options.max_batch_size = max_batch_size;
    auto owned = std::make_unique<held_instance>(stops);
    inst = owned.get();
    std::vector<std::unique_ptr<instance>> instances;
    instances.push_back(std::move(owned));
    scheduler = std::make_shared<model_scheduler>(io.get_executor(), options, std::move(instances), metrics,
                                                  statistics);
  }
  ~fixture() {
    guard.reset();
    io_thread.join();
  }

  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
  std::thread io_thread{[this] { io.run(); }};
  metrics::registry registry;
  model_metrics metrics{registry, "test_model", 1};
  model_statistics statistics{8};
  std::shared_ptr<std::atomic<int>> stops = std::make_shared<std::atomic<int>>(0);
  held_instance* inst{nullptr};  // owned by the scheduler until join()
  std::shared_ptr<model_scheduler> scheduler;
};

TEST(model_scheduler_drain, queued_requests_still_run_new_ones_are_refused_then_drained_is_called) {
  fixture f;
  auto running = make_request("running", clock::now());
  f.scheduler->schedule(std::move(running.request));
  ASSERT_TRUE(f.inst->wait_for_batches(1));
  auto queued = make_request("queued", clock::now());
  f.scheduler->schedule(std::move(queued.request));

  drained_flag drained;
  f.scheduler->drain(clock::now() + 1h, drained.callback());
  auto late = make_request("late", clock::now());
  f.scheduler->schedule(std::move(late.request));
  ASSERT_TRUE(late.sink->wait_finished());
  EXPECT_EQ(late.sink->failure->code, error_code::not_ready);

  f.inst->complete(0);
  ASSERT_TRUE(f.inst->wait_for_batches(2));  // the queued request still runs
  EXPECT_EQ(drained.calls(), 0);             // it has not been answered yet
  f.inst->complete(1);
  ASSERT_TRUE(drained.wait());
  EXPECT_EQ(drained.calls(), 1);
  for (auto* sink : {running.sink.get(), queued.sink.get()}) {
    EXPECT_EQ(sink->finish_count, 1);
    EXPECT_FALSE(sink->failure);
  }
  EXPECT_EQ(late.sink->finish_count, 1);

  f.scheduler->join();
  EXPECT_EQ(f.stops->load(), 1);
}

TEST(model_scheduler_drain, at_the_deadline_the_queue_is_answered_not_ready_and_running_batches_finish) {
  fixture f;
  auto running = make_request("running", clock::now());
  f.scheduler->schedule(std::move(running.request));
  ASSERT_TRUE(f.inst->wait_for_batches(1));
  auto queued = make_request("queued", clock::now());
  f.scheduler->schedule(std::move(queued.request));

  drained_flag drained;
  f.scheduler->drain(clock::now() + 20ms, drained.callback());
  ASSERT_TRUE(queued.sink->wait_finished());
  ASSERT_TRUE(queued.sink->failure);
  EXPECT_EQ(queued.sink->failure->code, error_code::not_ready);
  EXPECT_EQ(running.sink->finish_count, 0);  // held by the test: the deadline does not cut it short
  EXPECT_EQ(drained.calls(), 0);

  f.inst->complete(0);
  ASSERT_TRUE(drained.wait());
  EXPECT_EQ(running.sink->finish_count, 1);
  EXPECT_FALSE(running.sink->failure);
  f.scheduler->join();
}

TEST(model_scheduler_drain, drain_from_a_sink_being_answered_or_an_io_thread_does_not_deadlock) {
  // A cancelled request is answered by the scheduler itself (the queue drops
  // it); its sink drains the scheduler from inside that answer, where waiting
  // for the scheduler's lock would never return.
  class draining_sink final : public response_sink {
   public:
    draining_sink(std::shared_ptr<model_scheduler> scheduler, drained_flag& drained)
        : scheduler_(std::move(scheduler)), drained_(drained) {}
    void send(inference_response) override {}
    void finish(std::optional<error>) override {
      scheduler_->drain(clock::now() + 1h, drained_.callback());
      scheduler_.reset();
    }

   private:
    std::shared_ptr<model_scheduler> scheduler_;
    drained_flag& drained_;
  };
  fixture f;
  drained_flag from_sink;
  auto request = make_request("cancelled", clock::now());
  request.request->sink = std::make_shared<draining_sink>(f.scheduler, from_sink);
  request.request->cancellation->cancel();
  f.scheduler->schedule(std::move(request.request));
  ASSERT_TRUE(from_sink.wait());

  // From a plain I/O thread of a one-thread pool: the drain is posted,
  // never waited for.
  fixture g;
  drained_flag on_io;
  std::promise<void> returned;
  boost::asio::post(g.io, [&] {
    g.scheduler->drain(clock::now(), on_io.callback());
    returned.set_value();
  });
  ASSERT_EQ(returned.get_future().wait_for(wait_limit), std::future_status::ready);
  ASSERT_TRUE(on_io.wait());
  f.scheduler->join();
  g.scheduler->join();
  EXPECT_EQ(f.stops->load(), 1);
  EXPECT_EQ(g.stops->load(), 1);
}

TEST(model_scheduler_drain, join_is_idempotent_and_stop_after_join_does_nothing) {
  fixture f;
  drained_flag drained;
  f.scheduler->drain(clock::now(), drained.callback());
  ASSERT_TRUE(drained.wait());
  f.scheduler->join();
  f.scheduler->join();
  f.scheduler->stop();
  EXPECT_EQ(f.stops->load(), 1);
  // Requests after the drain are still answered, at once.
  auto late = make_request("late", clock::now());
  f.scheduler->schedule(std::move(late.request));
  ASSERT_TRUE(late.sink->wait_finished());
  EXPECT_EQ(late.sink->failure->code, error_code::not_ready);
}

}  // namespace
}  // namespace surge
