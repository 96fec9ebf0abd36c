#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/inference_request.hpp"
#include "instance/instance.hpp"
#include "metrics/model_metrics.hpp"
#include "scheduler/batch_queue.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge {

// Drives one model version's batch_queue. Every decision is taken under one
// mutex, held only while the queue is read or changed (never while a sink is
// answered or an instance is handed a batch), by whichever thread has news:
// an I/O thread pushing a request, an instance thread reporting its batch
// done (which then hands itself the next batch with no thread hop), or a
// timer. Nothing here blocks beyond that (join() and stop() excepted, which
// are never called on an I/O thread).
class model_scheduler final : public request_scheduler, public std::enable_shared_from_this<model_scheduler> {
 public:
  model_scheduler(boost::asio::any_io_executor io, batcher_options options,
                  std::vector<std::unique_ptr<instance>> instances, model_metrics& metrics,
                  model_statistics& statistics);
  ~model_scheduler();

  // Takes the request from any thread and never blocks. A full queue
  // answers it with unavailable (429) at once.
  void schedule(request_ptr request) override;

  // While draining the queue keeps batching and dispatching as before; only
  // admission stops. At `deadline` what is still queued is answered
  // not_ready; batches already running finish.
  void drain(clock::time_point deadline, std::function<void()> drained) override;
  void join() override;
  void stop() override;

 private:
  // What a decision asks for, gathered under mutex_ and carried out after
  // it is released: answers may re-enter this scheduler (a sink that drains
  // it, an ensemble step feeding the same model) and instances may answer
  // synchronously.
  struct effects {
    std::vector<std::pair<request_ptr, error>> answers;
    std::vector<std::pair<std::size_t, std::vector<request_ptr>>> dispatches;
    std::function<void()> drained;
  };

  void on_instance_done(std::size_t index, instance::completion done);
  void run_policy(effects& out);
  void arm_timer(clock::time_point when);
  void answer_queue(effects& out);
  void check_drained(effects& out);
  void apply(effects& out);
  void on_timer(boost::system::error_code ec, bool drain_deadline);

  boost::asio::any_io_executor io_;
  std::mutex mutex_;  // guards the timers and the queue's state below (not instances_ itself)
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer drain_timer_;
  std::optional<clock::time_point> timer_at_;
  batch_queue queue_;
  // Released by join() once nothing can be dispatched to them.
  std::vector<std::unique_ptr<instance>> instances_;
  const std::size_t instance_count_;
  std::vector<std::size_t> free_instances_;  // indices into instances_
  // Batches taken from the queue whose instance has not been handed them
  // yet; stop() waits for none before it stops the instances. Raised under
  // mutex_, lowered without it (the hand-over path takes the lock once).
  std::atomic<std::size_t> handing_over_{0};
  model_metrics& metrics_;
  model_statistics& statistics_;
  bool draining_{false};
  std::function<void()> drained_;  // called and cleared once drained
  bool released_{false};           // set once drained_ ran: metrics_ may be gone
  bool joined_{false};             // join()/stop() caller only
};

}  // namespace surge
