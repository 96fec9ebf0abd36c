#include "ensemble/ensemble_scheduler.hpp"

namespace surge::ensemble {

ensemble_scheduler::ensemble_scheduler(std::shared_ptr<const ensemble_plan> plan, step_target target,
                                       std::shared_ptr<ensemble_metrics> metrics)
    : plan_(std::move(plan)), target_(std::move(target)), metrics_(std::move(metrics)) {}

void ensemble_scheduler::schedule(request_ptr request) {
  bool admitted = false;
  {
    std::lock_guard lock(mutex_);
    admitted = admitting_;
    if (admitted) ++in_flight_;
  }
  if (!admitted) {
    request->sink->finish(make_error(error_code::not_ready, "ensemble '" + plan_->name + "' is not ready"));
    return;
  }
  // The run holds the scheduler until it is answered.
  auto run = std::make_shared<ensemble_run>(plan_, std::move(request), target_, metrics_,
                                            [self = shared_from_this()] { self->run_done(); });
  run->start();
}

void ensemble_scheduler::run_done() {
  std::function<void()> drained;
  {
    std::lock_guard lock(mutex_);
    if (--in_flight_ == 0 && drained_) drained = std::move(drained_);
  }
  if (drained) drained();
}

void ensemble_scheduler::drain(clock::time_point, std::function<void()> drained) {
  {
    std::lock_guard lock(mutex_);
    admitting_ = false;
    if (in_flight_ > 0) {
      drained_ = std::move(drained);
      return;
    }
  }
  drained();
}

void ensemble_scheduler::join() { metrics_->remove(); }

void ensemble_scheduler::stop() {
  // Runs still in flight end with their steps, which the step models answer
  // (not_ready, once they stop too); nothing here waits for them.
  {
    std::lock_guard lock(mutex_);
    admitting_ = false;
  }
  metrics_->remove();
}

std::size_t ensemble_scheduler::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

}  // namespace surge::ensemble
