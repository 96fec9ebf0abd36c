#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <vector>

#include "core/inference_request.hpp"
#include "instance/instance.hpp"
#include "metrics/model_metrics.hpp"
#include "scheduler/batch_queue.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge {

// Drives one model version's batch_queue on a strand of the I/O pool: every
// decision runs there, so the queue needs no lock, and nothing here blocks.
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

  // Answers everything still queued with not_ready and stops the instances
  // once they finish their current batch. Blocks until they have.
  void stop() override;

 private:
  void on_strand_push(request_ptr request);
  void on_instance_done(std::size_t index, instance::completion done);
  void run_policy();
  void arm_timer(clock::time_point when);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  std::optional<clock::time_point> timer_at_;
  batch_queue queue_;
  std::vector<std::unique_ptr<instance>> instances_;
  std::vector<std::size_t> free_instances_;  // indices into instances_, touched on strand_ only
  model_metrics& metrics_;
  model_statistics& statistics_;
  bool stopped_{false};  // strand_ only
};

}  // namespace surge
