#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <optional>

#include "config/model_config.pb.h"
#include "scheduler/request_scheduler.hpp"
#include "sequence/sequence_table.hpp"

namespace surge {

// The scheduler of a stateful model (config sequence_batching), a sibling of
// the dynamic batcher and the generation scheduler. It keeps each sequence
// on one slot and lets one request per sequence at a time through to the
// model's dynamic batcher (`queue`), so steps of different sequences batch
// together while each sequence's steps run in order. Before a step runs it
// gets the config's control tensors and the sequence_slot parameter
// (sequence_controls.hpp); a timer frees the slots of idle sequences.
class sequence_batcher final : public request_scheduler, public std::enable_shared_from_this<sequence_batcher> {
 public:
  sequence_batcher(boost::asio::any_io_executor io, config::ModelConfig config, std::uint32_t slots,
                   std::shared_ptr<request_scheduler> queue);

  void schedule(request_ptr request) override;
  // Requests still waiting behind their sequence's running step are answered
  // not_ready; running and queued steps finish as the queue drains.
  void drain(clock::time_point deadline, std::function<void()> drained) override;
  void join() override;
  void stop() override;

  // Called by a step's sink once the step is answered.
  void step_finished(const std::string& id, bool ended);

 private:
  void apply(sequence_table::effects& out);
  void arm_timer();  // mutex_ held
  void on_timer();
  // Stops admitting and answers every waiting step not_ready ("model 'm' is <why>").
  void close(const std::string& why);

  config::ModelConfig config_;
  std::shared_ptr<request_scheduler> queue_;
  std::mutex mutex_;
  sequence_table table_;                      // guarded by mutex_
  boost::asio::steady_timer timer_;           // guarded by mutex_
  std::optional<clock::time_point> timer_at_; // guarded by mutex_
  bool closed_{false};                        // guarded by mutex_
};

// Slots for a config: max_candidate_sequences for the oldest strategy,
// max_batch_size (at least 1) x instances for direct.
std::uint32_t sequence_slots(const config::ModelConfig& config, std::uint32_t instances);

}  // namespace surge
