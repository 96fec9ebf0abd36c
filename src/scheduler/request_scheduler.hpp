#pragma once

#include "core/inference_request.hpp"

namespace surge {

// What a model version hands its admitted requests to: the dynamic batcher
// (model_scheduler) for tensor models, the continuous batcher
// (sequence_scheduler) for generative ones.
class request_scheduler {
 public:
  virtual ~request_scheduler() = default;
  // Takes the request from any thread and never blocks; every outcome,
  // refusal included, reaches the request's sink exactly once.
  virtual void schedule(request_ptr request) = 0;
  // Answers whatever is still queued or running and joins the instances.
  virtual void stop() = 0;
};

}  // namespace surge
