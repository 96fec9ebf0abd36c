#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "core/batch_outcome.hpp"
#include "instance/instance.hpp"
#include "metrics/model_metrics.hpp"

namespace surge {

// Runs batches on a thread of its own, where a blocking backend call is fine.
// Completion is reported through the done callback, on that thread: the
// scheduler decides the next batch there and hands it back without a wake-up.
//
// A backend that declared SURGE_CAPABILITY_SHORT_EXECUTE (cheap, never
// blocks) runs on the calling thread instead: the thread that formed the
// batch, usually an I/O thread. That saves two thread wake-ups per batch (to
// the instance thread and back), which cost more than such a backend's
// execute.
class in_process_instance final : public instance {
 public:
  enum class threading { own_thread, caller };

  // The backend call: the batch's requests in, one answer per request out
  // (backend_instance_handle::execute). It may take requests over (a
  // decoupled model answers their sinks itself), leaving their entries null.
  using execute_function = std::function<void(std::vector<request_ptr>& batch, batch_outcome& outcome)>;

  in_process_instance(std::string name, execute_function execute, model_metrics& metrics,
                      model_statistics& statistics, threading mode = threading::own_thread);
  ~in_process_instance() override;

  void execute(std::vector<request_ptr> batch, done_callback done) override;
  void stop() override;

 private:
  struct work {
    std::vector<request_ptr> batch;
    done_callback done;
  };
  void run();
  completion run_batch(std::vector<request_ptr>& batch);

  std::string name_;
  execute_function execute_;
  model_metrics& metrics_;
  model_statistics& statistics_;
  const threading mode_;
  batch_outcome outcome_;  // used by the one thread that runs batches; reused to keep its capacity

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<work> pending_;  // guarded by mutex_
  bool stopping_{false};         // guarded by mutex_
  std::thread thread_;
};

}  // namespace surge
