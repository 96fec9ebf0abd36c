#pragma once

// Helpers shared by the scheduler and instance tests: requests with a
// recording sink, built without any frontend.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "core/inference_request.hpp"

namespace surge::testing {

// Records what a request was answered; every test asserts it finished once.
class recording_sink final : public response_sink {
 public:
  void send(inference_response response) override {
    std::lock_guard lock(mutex_);
    responses.push_back(std::move(response));
  }
  void finish(std::optional<error> failure) override {
    {
      std::lock_guard lock(mutex_);
      ++finish_count;
      this->failure = std::move(failure);
    }
    finished_.notify_all();
  }

  // Waits (without polling) until finish() was called; false after `limit`.
  bool wait_finished(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return finished_.wait_for(lock, limit, [this] { return finish_count > 0; });
  }

  std::mutex mutex_;
  std::condition_variable finished_;
  std::vector<inference_response> responses;
  std::optional<error> failure;
  int finish_count{0};
};

inline tensor fp32_tensor(std::string name, std::vector<std::int64_t> shape, float fill) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  auto t = make_owned_tensor(std::move(name), data_type::fp32, std::move(shape), static_cast<std::size_t>(n) * 4);
  auto* values = reinterpret_cast<float*>(mutable_data(t));
  for (std::int64_t i = 0; i < n; ++i) values[i] = fill + static_cast<float>(i);
  return t;
}

struct made_request {
  request_ptr request;
  std::shared_ptr<recording_sink> sink;
};

// A request of `rows` rows of `width` FP32 values, arriving at `arrival`.
inline made_request make_request(std::string id, clock::time_point arrival, std::int64_t rows = 1,
                                 std::int64_t width = 4, std::uint32_t priority = 0) {
  auto sink = std::make_shared<recording_sink>();
  auto request = std::make_unique<inference_request>();
  request->id = std::move(id);
  request->model = "test_model";
  request->arrival = arrival;
  request->priority = priority;
  request->inputs.push_back(fp32_tensor("INPUT0", {rows, width}, 0.0f));
  request->sink = sink;
  return {std::move(request), sink};
}

}  // namespace surge::testing
