#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "core/inference_request.hpp"

namespace surge {

// Where a batch runs: an in-process backend thread today, a remote worker
// later. The scheduler hands a batch to a free instance and learns when it is
// free again; it does not know which kind it talks to.
class instance {
 public:
  struct completion {
    std::size_t batch_rows{0};
    std::size_t requests{0};
    clock::duration compute{};  // time spent in the backend
    // The batch failed as a whole (the backend's execute returned an error);
    // requests failing one by one inside a batch that ran do not set it.
    bool failed{false};
  };
  using done_callback = std::function<void(completion)>;

  virtual ~instance() = default;

  // Runs the batch, answers every request in it (each sink gets its responses
  // and exactly one finish), then calls `done` once. Returns at once.
  virtual void execute(std::vector<request_ptr> batch, done_callback done) = 0;
  virtual void stop() = 0;
};

}  // namespace surge
