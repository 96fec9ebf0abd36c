#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/inference_request.hpp"
#include "ensemble/ensemble_metrics.hpp"
#include "ensemble/ensemble_plan.hpp"

namespace surge::ensemble {

// Hands a step's request to the step's model (its own scheduler, so steps
// batch with other requests of that model). Must answer the request's sink
// in every case, a model that is not served included, and must not block.
using step_target = std::function<void(const step_plan& step, request_ptr request)>;

// One ensemble request in flight: the tensors produced so far and the steps
// still waiting for theirs. Nothing waits: each step is submitted as an
// ordinary request, and its sink (on whatever thread answers it) records the
// outputs and submits the steps whose inputs are now all there. The last
// step to finish answers the ensemble's request. Tensors are shared, not
// copied: a step's output buffer becomes the next step's input as it is.
//
// Step requests share the ensemble request's cancellation token, so a client
// that goes away cancels every step still queued; no further step starts.
class ensemble_run : public std::enable_shared_from_this<ensemble_run> {
 public:
  // `done` runs once, after the request's sink was answered.
  ensemble_run(std::shared_ptr<const ensemble_plan> plan, request_ptr request, step_target target,
               std::shared_ptr<ensemble_metrics> metrics, std::function<void()> done);

  // Submits the steps that read only ensemble inputs. Call once.
  void start();

  // From a step's sink.
  void step_sent(std::size_t step, inference_response response);
  void step_finished(std::size_t step, std::optional<error> failure);

 private:
  struct ready_step {
    std::size_t index;
    request_ptr request;
  };

  request_ptr make_step_request(std::size_t step);  // mutex_ held
  void submit(std::vector<ready_step> ready);
  void answer();  // once, when no step runs any more

  const std::shared_ptr<const ensemble_plan> plan_;
  const request_ptr request_;  // the ensemble's own; its sink is answered once by answer()
  const step_target target_;
  const std::shared_ptr<ensemble_metrics> metrics_;
  const std::function<void()> done_;

  std::mutex mutex_;
  // Ensemble tensor name -> tensor: the inputs, then each step's outputs. Guarded by mutex_.
  std::map<std::string, tensor, std::less<>> tensors_;
  std::vector<std::size_t> waiting_;  // per step: inputs other steps have not produced yet. Guarded by mutex_.
  std::vector<clock::time_point> submitted_;  // per step. Guarded by mutex_.
  std::size_t running_{0};  // steps submitted and not finished. Guarded by mutex_.
  std::optional<error> failure_;  // the first failure, naming its step. Guarded by mutex_.
};

}  // namespace surge::ensemble
