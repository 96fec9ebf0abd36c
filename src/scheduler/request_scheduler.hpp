#pragma once

#include <functional>

#include "core/inference_request.hpp"

namespace surge {

// What a model version hands its admitted requests to: the dynamic batcher
// (model_scheduler) for tensor models, the continuous batcher
// (sequence_scheduler) for generative ones.
//
// Taking a scheduler out of service is two steps, so that nothing blocks a
// thread that others wait on: drain() is asynchronous and may be called from
// any thread, an I/O thread or a sink the scheduler is answering included; join()
// blocks and is called once drained, never on an I/O thread.
class request_scheduler {
 public:
  virtual ~request_scheduler() = default;

  // Takes the request from any thread and never blocks; every outcome,
  // refusal included, reaches the request's sink exactly once.
  virtual void schedule(request_ptr request) = 0;

  // Stops admitting: a request scheduled from now on is answered not_ready.
  // What is queued or running still runs and is answered normally; what is
  // still queued at `deadline` is answered not_ready then (a deadline that
  // has passed answers the queue at once: the shutdown case). `drained` is
  // called once, on some thread the scheduler runs on, when nothing is queued
  // and every instance is idle; it must not block. Call once.
  virtual void drain(clock::time_point deadline, std::function<void()> drained) = 0;

  // After `drained` was called: stops the instances and joins their threads,
  // then releases them (and with them the backend's instances). Blocking;
  // never on an I/O thread.
  virtual void join() = 0;

  // Shutdown in one blocking call: answers what is queued not_ready, lets
  // running batches finish, joins. Never on an I/O thread.
  virtual void stop() = 0;
};

}  // namespace surge
