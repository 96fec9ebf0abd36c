#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "instance/instance.hpp"

namespace surge::testing {

// An instance that holds every batch until the test completes it, so what
// runs, what waits and when an instance is free again is decided by the
// test. Counts its stop() calls in `stops`, which outlives it.
class held_instance final : public instance {
 public:
  explicit held_instance(std::shared_ptr<std::atomic<int>> stops = std::make_shared<std::atomic<int>>(0))
      : stops_(std::move(stops)) {}

  void execute(std::vector<request_ptr> batch, done_callback done) override {
    std::lock_guard lock(mutex_);
    batches_.push_back({std::move(batch), std::move(done)});
    changed_.notify_all();
  }
  void stop() override { stops_->fetch_add(1); }

  // False when fewer than `count` batches arrived within 10 s.
  bool wait_for_batches(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return batches_.size() >= count; });
  }

  // The request ids of batch n (0-based); empty when it has not arrived.
  std::vector<std::string> batch_ids(std::size_t n) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> ids;
    if (batches_.size() > n) {
      for (auto& r : batches_[n].requests) ids.push_back(r->id);
    }
    return ids;
  }

  // Answers batch n successfully and reports it done.
  void complete(std::size_t n) {
    std::unique_lock lock(mutex_);
    auto& b = batches_.at(n);
    for (auto& r : b.requests) {
      r->sink->send(inference_response{});
      r->sink->finish(std::nullopt);
    }
    auto done = std::move(b.done);
    const auto count = b.requests.size();
    lock.unlock();
    done(completion{count, count, std::chrono::milliseconds(1), false});
  }

 private:
  struct pending {
    std::vector<request_ptr> requests;
    done_callback done;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<pending> batches_;
  std::shared_ptr<std::atomic<int>> stops_;
};

}  // namespace surge::testing
