#include "scheduler/model_scheduler.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <cassert>
#include <future>

#include "scheduler/io_thread.hpp"

namespace surge {

namespace asio = boost::asio;

namespace {
batcher_options with_instances(batcher_options options, std::size_t instances) {
  options.instances = instances;
  return options;
}
}  // namespace

model_scheduler::model_scheduler(asio::any_io_executor io, batcher_options options,
                                 std::vector<std::unique_ptr<instance>> instances, model_metrics& metrics,
                                 model_statistics& statistics)
    : io_(io),
      strand_(asio::make_strand(io)),
      timer_(strand_),
      drain_timer_(strand_),
      queue_(with_instances(std::move(options), instances.size())),
      instances_(std::move(instances)),
      instance_count_(instances_.size()),
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
  if (draining_) {
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
      check_drained();
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
  run_policy();
}

void model_scheduler::arm_timer(clock::time_point when) {
  if (timer_at_ && *timer_at_ <= when && *timer_at_ > clock::now()) return;  // an earlier wake-up is pending
  timer_at_ = when;
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    // A wait that had already expired when check_drained cancelled it still
    // runs, with success: the version it reports to may be gone by then.
    if (ec || self->released_) return;  // re-armed, stopped or drained
    self->timer_at_.reset();
    self->run_policy();
  });
}

void model_scheduler::answer_queue() {
  timer_.cancel();
  timer_at_.reset();
  for (;;) {
    auto rest = queue_.poll(clock::time_point::max(), true);
    if (rest.batch.empty() && rest.expired.empty() && rest.cancelled.empty()) break;
    for (auto& request : rest.cancelled) request->sink->finish(make_error(error_code::cancelled, "cancelled"));
    for (auto* group : {&rest.batch, &rest.expired}) {
      for (auto& request : *group) {
        request->sink->finish(make_error(error_code::not_ready, "model '" + request->model + "' is shutting down"));
      }
    }
  }
  if (!released_) metrics_.queue_depth.set(0);
}

void model_scheduler::check_drained() {
  if (!draining_ || !drained_ || queue_.size() != 0 || free_instances_.size() != instance_count_) return;
  // Nothing may touch the version's metrics once it is told it drained: it
  // may be freed while a cancelled wait still holds this scheduler.
  timer_.cancel();
  timer_at_.reset();
  drain_timer_.cancel();
  released_ = true;
  auto drained = std::move(drained_);
  drained_ = nullptr;
  drained();
}

void model_scheduler::drain(clock::time_point deadline, std::function<void()> drained) {
  asio::dispatch(strand_, [self = shared_from_this(), deadline, drained = std::move(drained)]() mutable {
    self->draining_ = true;
    self->drained_ = std::move(drained);
    if (deadline <= clock::now()) {
      self->answer_queue();
    } else {
      self->drain_timer_.expires_at(deadline);
      self->drain_timer_.async_wait([self](boost::system::error_code ec) {
        if (ec || self->released_) return;  // drained before the deadline
        self->answer_queue();
        self->check_drained();
      });
    }
    self->check_drained();
  });
}

void model_scheduler::join() {
  // An I/O thread may be the one the instances need to report back on.
  assert(!on_io_thread(io_) && "model_scheduler::join blocks: never call it on an I/O thread");
  if (joined_) return;
  joined_ = true;
  for (auto& inst : instances_) inst->stop();
  // Drained: no batch is out, and a draining strand dispatches none.
  instances_.clear();
}

void model_scheduler::stop() {
  assert(!on_io_thread(io_) && "model_scheduler::stop blocks: never call it on an I/O thread");
  if (joined_) return;
  std::promise<void> answered;
  asio::dispatch(strand_, [this, &answered] {
    draining_ = true;
    drain_timer_.cancel();
    answer_queue();
    check_drained();  // a drain in progress may have waited only for that queue
    answered.set_value();
  });
  answered.get_future().wait();
  // Batches still running finish first (an in-process instance's stop waits
  // for its batch); a remote one may still be out, so the instances are
  // released with the scheduler rather than here.
  joined_ = true;
  for (auto& inst : instances_) inst->stop();
}

}  // namespace surge
