// model_scheduler hands an instance thread that finished a batch its next one
// on that thread: no I/O thread takes part between batches, so a backlog
// drains at the instance's pace however busy the I/O threads are.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "instance/in_process_instance.hpp"
#include "scheduler/model_scheduler.hpp"
#include "support/test_support.hpp"

namespace surge {
namespace {

using namespace std::chrono_literals;
using testing::make_request;

// Holds the first batch until released, and records which thread ran each.
class gated_backend {
 public:
  void operator()(std::vector<request_ptr>& batch, batch_outcome& outcome) {
    {
      std::unique_lock lock(mutex_);
      threads_.insert(std::this_thread::get_id());
      ++batches_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return released_; });
    }
    outcome.answers.assign(batch.size(), inference_response{});
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  bool wait_for_batches(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return batches_ >= count; });
  }
  std::size_t thread_count() {
    std::lock_guard lock(mutex_);
    return threads_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::thread::id> threads_;
  int batches_{0};
  bool released_{false};
};

TEST(model_scheduler_handoff, a_backlog_drains_on_the_instance_thread_while_no_io_thread_runs) {
  // The io_context is never run: any report that needed an I/O thread
  // would leave the backlog queued forever.
  boost::asio::io_context io;
  metrics::registry registry;
  model_metrics metrics{registry, "test_model", 1};
  model_statistics statistics{8};
  auto backend = std::make_shared<gated_backend>();
  std::vector<std::unique_ptr<instance>> instances;
  instances.push_back(std::make_unique<in_process_instance>(
      "test_0", [backend](std::vector<request_ptr>& batch, batch_outcome& outcome) { (*backend)(batch, outcome); },
      metrics, statistics));
  batcher_options options;
  options.max_batch_size = 1;  // one request per batch: five batches in a row
  auto scheduler = std::make_shared<model_scheduler>(io.get_executor(), options, std::move(instances), metrics,
                                                     statistics);

  std::vector<testing::made_request> requests;
  for (int i = 0; i < 5; ++i) requests.push_back(make_request("r" + std::to_string(i), clock::now()));
  scheduler->schedule(std::move(requests[0].request));
  ASSERT_TRUE(backend->wait_for_batches(1));
  for (int i = 1; i < 5; ++i) scheduler->schedule(std::move(requests[i].request));
  backend->release();

  for (auto& request : requests) {
    ASSERT_TRUE(request.sink->wait_finished()) << "a queued request waited for an I/O thread";
    EXPECT_EQ(request.sink->finish_count, 1);
    EXPECT_FALSE(request.sink->failure);
  }
  EXPECT_EQ(backend->thread_count(), 1u);
  scheduler->stop();
}

}  // namespace
}  // namespace surge
