#include "ensemble/ensemble_scheduler.hpp"

namespace surge::ensemble {

ensemble_scheduler::ensemble_scheduler(std::shared_ptr<const ensemble_plan> plan, step_target target,
                                       std::shared_ptr<ensemble_metrics> metrics)
    : plan_(std::move(plan)), target_(std::move(target)), metrics_(std::move(metrics)) {}

void ensemble_scheduler::schedule(request_ptr request) {
  if (!runs_.enter()) {
    request->sink->finish(make_error(error_code::not_ready, "ensemble '" + plan_->name + "' is not ready"));
    return;
  }
  // The run holds the scheduler until it is answered.
  auto run = std::make_shared<ensemble_run>(plan_, std::move(request), target_, metrics_,
                                            [self = shared_from_this()] { self->run_done(); });
  run->start();
}

void ensemble_scheduler::run_done() { runs_.leave(); }

void ensemble_scheduler::drain(clock::time_point, std::function<void()> drained) { runs_.drain(std::move(drained)); }

void ensemble_scheduler::join() { metrics_->remove(); }

void ensemble_scheduler::stop() {
  // Runs still in flight end with their steps, which the step models answer
  // (not_ready, once they stop too); nothing here waits for them.
  runs_.close();
  metrics_->remove();
}

std::size_t ensemble_scheduler::in_flight() const { return runs_.in_flight(); }

}  // namespace surge::ensemble
