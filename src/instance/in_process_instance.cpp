#include "instance/in_process_instance.hpp"

#include <pthread.h>

#include <algorithm>


namespace surge {

in_process_instance::in_process_instance(std::string name, execute_function execute, model_metrics& metrics,
                                         model_statistics& statistics, threading mode)
    : name_(std::move(name)), execute_(std::move(execute)), metrics_(metrics), statistics_(statistics), mode_(mode) {
  if (mode_ == threading::own_thread) thread_ = std::thread([this] { run(); });
}

in_process_instance::~in_process_instance() { stop(); }

void in_process_instance::execute(std::vector<request_ptr> batch, done_callback done) {
  if (mode_ == threading::caller) {
    // The scheduler hands out one batch per instance at a time, from its
    // strand, so outcome_ is never shared.
    const auto result = run_batch(batch);
    done(result);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    pending_.emplace(work{std::move(batch), std::move(done)});
  }
  wake_.notify_one();
}

void in_process_instance::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void in_process_instance::run() {
  // Named so profilers and top show which model a busy thread serves (Linux
  // keeps 15 characters).
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  for (;;) {
    work next;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return pending_.has_value() || stopping_; });
      if (!pending_) return;  // stopping with nothing left to run
      next = std::move(*pending_);
      pending_.reset();
    }
    auto done = run_batch(next.batch);
    next.done(done);
  }
}

instance::completion in_process_instance::run_batch(std::vector<request_ptr>& batch) {
  // A client that left while the batch waited for this thread costs nothing.
  std::erase_if(batch, [](request_ptr& request) {
    if (!request->cancellation->cancelled()) return false;
    request->sink->finish(make_error(error_code::cancelled, "request cancelled by the client"));
    return true;
  });
  completion result;
  if (batch.empty()) return result;

  result.requests = batch.size();
  for (const auto& request : batch) result.batch_rows += static_cast<std::size_t>(request->batch_rows());

  const auto start = clock::now();
  execute_(batch, outcome_);
  const auto executed = clock::now();
  result.compute = executed - start;

  // Counted before any sink is answered: a client that has its response
  // finds it in the model's statistics and metrics.
  result.failed = outcome_.failed;
  const auto to_ns = [](clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d); };
  metrics_.compute_duration.observe(std::chrono::duration<double>(result.compute).count());
  metrics_.batch_size.observe(static_cast<double>(result.batch_rows));
  if (!result.failed) {
    // Inputs are prepared inside the backend's execute now (gathered, when
    // it wants one tensor), so their time is part of compute_infer.
    statistics_.compute_input.add(std::chrono::nanoseconds(0), result.requests);
    statistics_.compute_infer.add(to_ns(result.compute), result.requests);
    statistics_.execution_count.fetch_add(1, std::memory_order_relaxed);
    statistics_.inference_count.fetch_add(result.batch_rows, std::memory_order_relaxed);
    if (result.batch_rows <= statistics_.max_rows) statistics_.batch_compute_infer[result.batch_rows].add(to_ns(result.compute));
    statistics_.last_inference_ms.store(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count()),
        std::memory_order_relaxed);
  }

  for (std::size_t i = 0; i < outcome_.answers.size(); ++i) {
    auto& answer = outcome_.answers[i];
    if (auto* response = std::get_if<inference_response>(&answer)) {
      batch[i]->sink->send(std::move(*response));
      batch[i]->sink->finish(std::nullopt);
    } else if (auto* failure = std::get_if<error>(&answer)) {
      batch[i]->sink->finish(std::move(*failure));
    }
    // std::monostate: the backend answers this request itself.
  }
  // compute_output is the time answering took, so it comes after.
  if (!result.failed) statistics_.compute_output.add(to_ns(clock::now() - executed), result.requests);
  return result;
}

}  // namespace surge
