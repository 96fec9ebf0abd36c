#include "scheduler/model_scheduler.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <future>

namespace surge {

namespace asio = boost::asio;

model_scheduler::model_scheduler(asio::any_io_executor io, batcher_options options,
                                 std::vector<std::unique_ptr<instance>> instances, model_metrics& metrics,
                                 model_statistics& statistics)
    : strand_(asio::make_strand(io)),
      timer_(strand_),
      queue_(std::move(options)),
      instances_(std::move(instances)),
      metrics_(metrics),
      statistics_(statistics) {
  for (std::size_t i = 0; i < instances_.size(); ++i) free_instances_.push_back(i);
  metrics_.instances.set(static_cast<std::int64_t>(instances_.size()));
}

model_scheduler::~model_scheduler() = default;

void model_scheduler::schedule(request_ptr request) {
  // dispatch: from an I/O thread with the strand idle this runs inline,
  // saving a trip through the io_context's queue.
  asio::dispatch(strand_, [self = shared_from_this(), request = std::move(request)]() mutable {
    self->on_strand_push(std::move(request));
  });
}

void model_scheduler::on_strand_push(request_ptr request) {
  if (stopped_) {
    request->sink->finish(make_error(error_code::not_ready, "model '" + request->model + "' is shutting down"));
    return;
  }
  if (auto refused = queue_.push(request, clock::now())) {
    request->sink->finish(std::move(*refused));
    return;
  }
  metrics_.queue_depth.set(static_cast<std::int64_t>(queue_.size()));
  run_policy();
}

void model_scheduler::run_policy() {
  for (;;) {
    const auto now = clock::now();
    auto decision = queue_.poll(now, !free_instances_.empty());
    for (auto& request : decision.cancelled) {
      request->sink->finish(make_error(error_code::cancelled, "request cancelled by the client"));
    }
    for (auto& request : decision.expired) {
      request->sink->finish(make_error(error_code::deadline_exceeded,
                                       "request timed out in the queue of model '" + request->model + "'"));
    }
    metrics_.queue_depth.set(static_cast<std::int64_t>(queue_.size()));
    if (decision.batch.empty()) {
      if (decision.wake_at) arm_timer(*decision.wake_at);
      return;
    }
    for (const auto& request : decision.batch) {
      const auto waited = now - request->arrival;
      metrics_.queue_duration.observe(std::chrono::duration<double>(waited).count());
      statistics_.queue.add(std::chrono::duration_cast<std::chrono::nanoseconds>(waited));
    }
    const auto index = free_instances_.back();
    free_instances_.pop_back();
    instances_[index]->execute(std::move(decision.batch), [self = shared_from_this(), index](instance::completion done) {
      asio::post(self->strand_, [self, index, done] { self->on_instance_done(index, done); });
    });
  }
}

void model_scheduler::on_instance_done(std::size_t index, instance::completion done) {
  free_instances_.push_back(index);
  if (!done.failed) queue_.record_execution(done.batch_rows, done.requests, done.compute, clock::now());
  if (stopped_) return;
  run_policy();
}

void model_scheduler::arm_timer(clock::time_point when) {
  if (timer_at_ && *timer_at_ <= when && *timer_at_ > clock::now()) return;  // an earlier wake-up is pending
  timer_at_ = when;
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;  // re-armed or stopped
    self->timer_at_.reset();
    if (!self->stopped_) self->run_policy();
  });
}

void model_scheduler::stop() {
  std::promise<void> drained;
  asio::post(strand_, [this, &drained] {
    stopped_ = true;
    timer_.cancel();
    auto decision = queue_.poll(clock::now(), false);
    for (auto& request : decision.cancelled) request->sink->finish(make_error(error_code::cancelled, "cancelled"));
    for (auto& request : decision.expired) request->sink->finish(make_error(error_code::not_ready, "shutting down"));
    // Whatever is still queued cannot run any more.
    for (;;) {
      auto rest = queue_.poll(clock::time_point::max(), true);
      if (rest.batch.empty() && rest.expired.empty() && rest.cancelled.empty()) break;
      for (auto* group : {&rest.batch, &rest.expired, &rest.cancelled}) {
        for (auto& request : *group) {
          request->sink->finish(make_error(error_code::not_ready, "model '" + request->model + "' is shutting down"));
        }
      }
    }
    drained.set_value();
  });
  drained.get_future().wait();
  for (auto& inst : instances_) inst->stop();
}

}  // namespace surge
