#include "scheduler/model_scheduler.hpp"

#include <boost/asio/post.hpp>
#include <cassert>

#include "scheduler/io_thread.hpp"

namespace surge {

namespace asio = boost::asio;

namespace {
batcher_options with_instances(batcher_options options, std::size_t instances) {
  options.instances = instances;
  return options;
}

// Set while this thread hands batches to instances. An instance that reports
// within execute() (one that runs on the caller, or fails at once) has its
// report posted to the I/O pool: deciding the next batch from inside that
// call would recurse once per queued batch.
thread_local int handing_over_depth = 0;

error shutting_down(const inference_request& request) {
  return make_error(error_code::not_ready, "model '" + request.model + "' is shutting down");
}

}  // namespace

model_scheduler::model_scheduler(asio::any_io_executor io, batcher_options options,
                                 std::vector<std::unique_ptr<instance>> instances, model_metrics& metrics,
                                 model_statistics& statistics)
    : io_(io),
      timer_(io),
      drain_timer_(io),
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
  effects out;
  {
    std::lock_guard lock(mutex_);
    if (draining_) {
      auto failure = shutting_down(*request);
      out.answers.emplace_back(std::move(request), std::move(failure));
    } else if (auto refused = queue_.push(request, clock::now())) {
      out.answers.emplace_back(std::move(request), std::move(*refused));
    } else {
      metrics_.queue_depth.set(static_cast<std::int64_t>(queue_.size()));
      run_policy(out);
    }
  }
  apply(out);
}

void model_scheduler::run_policy(effects& out) {
  for (;;) {
    const auto now = clock::now();
    auto decision = queue_.poll(now, !free_instances_.empty());
    for (auto& request : decision.cancelled) {
      out.answers.emplace_back(std::move(request), make_error(error_code::cancelled, "request cancelled by the client"));
    }
    for (auto& request : decision.expired) {
      auto message = "request timed out in the queue of model '" + request->model + "'";
      out.answers.emplace_back(std::move(request), make_error(error_code::deadline_exceeded, std::move(message)));
    }
    metrics_.queue_depth.set(static_cast<std::int64_t>(queue_.size()));
    if (decision.batch.empty()) {
      if (decision.wake_at) arm_timer(*decision.wake_at);
      check_drained(out);
      return;
    }
    for (const auto& request : decision.batch) {
      const auto waited = now - request->arrival;
      metrics_.queue_duration.observe(std::chrono::duration<double>(waited).count());
      statistics_.queue.add(std::chrono::duration_cast<std::chrono::nanoseconds>(waited));
    }
    const auto index = free_instances_.back();
    free_instances_.pop_back();
    ++handing_over_;
    out.dispatches.emplace_back(index, std::move(decision.batch));
  }
}

void model_scheduler::apply(effects& out) {
  for (auto& [request, failure] : out.answers) request->sink->finish(std::move(failure));
  if (!out.dispatches.empty()) {
    ++handing_over_depth;
    for (auto& dispatch : out.dispatches) {
      // Not a structured binding: clang 15 cannot capture one in a lambda.
      const auto index = dispatch.first;
      instances_[index]->execute(std::move(dispatch.second), [self = shared_from_this(), index](instance::completion done) {
        if (handing_over_depth > 0) {
          asio::post(self->io_, [self, index, done] { self->on_instance_done(index, done); });
        } else {
          self->on_instance_done(index, done);
        }
      });
    }
    --handing_over_depth;
    if (handing_over_.fetch_sub(out.dispatches.size()) == out.dispatches.size()) handing_over_.notify_all();
  }
  if (out.drained) out.drained();
}

void model_scheduler::on_instance_done(std::size_t index, instance::completion done) {
  effects out;
  {
    std::lock_guard lock(mutex_);
    free_instances_.push_back(index);
    if (!done.failed) queue_.record_execution(done.batch_rows, done.requests, done.compute, clock::now());
    run_policy(out);
  }
  apply(out);
}

void model_scheduler::arm_timer(clock::time_point when) {
  if (timer_at_ && *timer_at_ <= when && *timer_at_ > clock::now()) return;  // an earlier wake-up is pending
  timer_at_ = when;
  timer_.expires_at(when);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) { self->on_timer(ec, false); });
}

void model_scheduler::on_timer(boost::system::error_code ec, bool drain_deadline) {
  if (ec) return;  // re-armed, stopped or drained
  effects out;
  {
    std::lock_guard lock(mutex_);
    // A wait that had already expired when check_drained cancelled it still
    // runs, with success: the version it reports to may be gone by then.
    if (released_) return;
    if (drain_deadline) {
      answer_queue(out);
      check_drained(out);
    } else {
      timer_at_.reset();
      run_policy(out);
    }
  }
  apply(out);
}

void model_scheduler::answer_queue(effects& out) {
  timer_.cancel();
  timer_at_.reset();
  for (;;) {
    auto rest = queue_.poll(clock::time_point::max(), true);
    if (rest.batch.empty() && rest.expired.empty() && rest.cancelled.empty()) break;
    for (auto& request : rest.cancelled) out.answers.emplace_back(std::move(request), make_error(error_code::cancelled, "cancelled"));
    for (auto* group : {&rest.batch, &rest.expired}) {
      for (auto& request : *group) {
        auto failure = shutting_down(*request);
        out.answers.emplace_back(std::move(request), std::move(failure));
      }
    }
  }
  if (!released_) metrics_.queue_depth.set(0);
}

void model_scheduler::check_drained(effects& out) {
  if (!draining_ || !drained_ || queue_.size() != 0 || free_instances_.size() != instance_count_) return;
  // Nothing may touch the version's metrics once it is told it drained: it
  // may be freed while a cancelled wait still holds this scheduler.
  timer_.cancel();
  timer_at_.reset();
  drain_timer_.cancel();
  released_ = true;
  out.drained = std::move(drained_);
  drained_ = nullptr;
}

void model_scheduler::drain(clock::time_point deadline, std::function<void()> drained) {
  effects out;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    drained_ = std::move(drained);
    if (deadline <= clock::now()) {
      answer_queue(out);
    } else {
      drain_timer_.expires_at(deadline);
      drain_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) { self->on_timer(ec, true); });
    }
    check_drained(out);
  }
  apply(out);
}

void model_scheduler::join() {
  // An I/O thread may be the one the instances need to report back on.
  assert(!on_io_thread(io_) && "model_scheduler::join blocks: never call it on an I/O thread");
  if (joined_) return;
  joined_ = true;
  for (auto& inst : instances_) inst->stop();
  // Drained: no batch is out, and a drained queue dispatches none.
  instances_.clear();
}

void model_scheduler::stop() {
  assert(!on_io_thread(io_) && "model_scheduler::stop blocks: never call it on an I/O thread");
  if (joined_) return;
  effects out;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    drain_timer_.cancel();
    answer_queue(out);
    check_drained(out);  // a drain in progress may have waited only for that queue
  }
  apply(out);
  // A batch another thread took from the queue just before is handed to
  // its instance before the instances stop, so that it is answered.
  for (auto left = handing_over_.load(); left != 0; left = handing_over_.load()) handing_over_.wait(left);
  // Batches still running finish first (an in-process instance's stop waits
  // for its batch); a remote one may still be out, so the instances are
  // released with the scheduler rather than here.
  joined_ = true;
  for (auto& inst : instances_) inst->stop();
}

}  // namespace surge
