#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "core/inference_request.hpp"
#include "instance/instance.hpp"
#include "metrics/model_metrics.hpp"
#include "scheduler/batch_queue.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge {

// Drives one model version's batch_queue on a strand of the I/O pool: every
// decision runs there, so the queue needs no lock, and nothing here blocks
// (join() and stop() excepted, which are never called on an I/O thread).
// Requests enter through schedule(); instances report back through the strand.
class model_scheduler final : public request_scheduler, public std::enable_shared_from_this<model_scheduler> {
 public:
  model_scheduler(boost::asio::any_io_executor io, batcher_options options,
                  std::vector<std::unique_ptr<instance>> instances, model_metrics& metrics,
                  model_statistics& statistics);
  ~model_scheduler();

  // Takes the request from any thread and never blocks. A full queue
  // answers it with unavailable (429) from the strand, never blocking.
  void schedule(request_ptr request) override;

  // While draining the queue keeps batching and dispatching as before; only
  // admission stops. At `deadline` what is still queued is answered
  // not_ready; batches already running finish.
  void drain(clock::time_point deadline, std::function<void()> drained) override;
  void join() override;
  void stop() override;

 private:
  void on_strand_push(request_ptr request);
  void on_instance_done(std::size_t index, instance::completion done);
  void run_policy();
  void arm_timer(clock::time_point when);
  void answer_queue();
  void check_drained();

  boost::asio::any_io_executor io_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer drain_timer_;
  std::optional<clock::time_point> timer_at_;
  batch_queue queue_;
  // Dispatched to on strand_ only; released by join() once nothing can be.
  std::vector<std::unique_ptr<instance>> instances_;
  const std::size_t instance_count_;
  std::vector<std::size_t> free_instances_;  // indices into instances_, touched on strand_ only
  model_metrics& metrics_;
  model_statistics& statistics_;
  bool draining_{false};           // strand_ only
  std::function<void()> drained_;  // strand_ only; called and cleared once drained
  bool released_{false};           // strand_ only; set once drained_ ran: metrics_ may be gone
  bool joined_{false};             // join()/stop() caller only
};

}  // namespace surge
