#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "ensemble/ensemble_metrics.hpp"
#include "ensemble/ensemble_plan.hpp"
#include "ensemble/ensemble_run.hpp"
#include "scheduler/in_flight_gate.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge::ensemble {

// The ensemble executor: the request_scheduler of an ensemble's
// model_version. It has no queue and no instances of its own; each request
// becomes an ensemble_run whose steps queue at their own models. Draining
// waits for the runs in flight, which end when their steps do (each step
// model's own queue policy and drain bound them).
class ensemble_scheduler final : public request_scheduler, public std::enable_shared_from_this<ensemble_scheduler> {
 public:
  ensemble_scheduler(std::shared_ptr<const ensemble_plan> plan, step_target target,
                     std::shared_ptr<ensemble_metrics> metrics);

  void schedule(request_ptr request) override;
  void drain(clock::time_point deadline, std::function<void()> drained) override;
  void join() override;
  void stop() override;

  std::size_t in_flight() const;

 private:
  void run_done();

  const std::shared_ptr<const ensemble_plan> plan_;
  const step_target target_;
  const std::shared_ptr<ensemble_metrics> metrics_;

  in_flight_gate runs_;
};

}  // namespace surge::ensemble
