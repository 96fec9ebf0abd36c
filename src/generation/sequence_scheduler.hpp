#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "generation/generation_engine.hpp"
#include "generation/sequence_policy.hpp"
#include "metrics/generation_metrics.hpp"
#include "metrics/model_metrics.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge {

struct sequence_scheduler_options {
  sequence_policy_options policy;
  std::uint32_t max_queue_size{1024};      // waiting sequences; full answers 429
  std::uint32_t max_tokens_limit{0};       // largest max_tokens accepted; 0: the model's context
  std::uint32_t default_max_tokens{128};   // when a request gives none
  std::uint32_t priority_levels{1};        // 1 is the highest
  std::uint32_t default_priority_level{1};
};

// The continuous batcher: a sibling of model_scheduler for generative models.
//
// Every step it retires finished and cancelled sequences, admits waiting ones
// into free KV-cache slots within the step's token budget (preempting a
// lower-priority running sequence when a higher-priority one waits and no
// slot is free), prefills the admitted prompts, and decodes one token for
// every running sequence in one backend call. Because each step is a blocking
// backend call, the loop runs on the instance's own thread (one per engine);
// admission from I/O threads only appends to the waiting queue under a mutex
// held for a few instructions. A preempted sequence gives up its slot and is
// prefilled again (prompt and generated tokens) when it resumes.
class sequence_scheduler final : public request_scheduler {
 public:
  sequence_scheduler(std::string name, sequence_scheduler_options options, std::shared_ptr<generation_model> model,
                     std::vector<std::unique_ptr<generation_engine>> engines, model_metrics& metrics,
                     generation_metrics& generation, model_statistics& statistics);
  ~sequence_scheduler() override;

  void schedule(request_ptr request) override;
  // While draining, waiting and running sequences go on as before; at
  // `deadline` every one left is answered not_ready. `drained` is called on
  // an engine thread (or here, if nothing is left) once every admitted
  // sequence has been answered.
  void drain(clock::time_point deadline, std::function<void()> drained) override;
  // Answers every sequence still waiting or running not_ready, joins the
  // engine threads and releases the engines and the model. Blocking; never
  // on an I/O thread.
  void join() override;
  void stop() override { join(); }

  const sequence_scheduler_options& options() const { return options_; }

 private:
  struct sequence;
  using sequence_ptr = std::unique_ptr<sequence>;

  void run(std::size_t engine_index);
  std::optional<error> admit_request(inference_request& request, sequence& s) const;
  bool emit(sequence& s, std::int32_t token, clock::time_point now);
  void finish(sequence& s, std::optional<error> failure);
  std::chrono::seconds retry_after() const;

  std::string name_;
  sequence_scheduler_options options_;
  std::shared_ptr<generation_model> model_;  // released by stop()
  std::uint32_t max_context_{0};              // model_'s, kept for admission checks after stop()
  std::vector<std::unique_ptr<generation_engine>> engines_;
  model_metrics& metrics_;
  generation_metrics& generation_;
  model_statistics& statistics_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::deque<sequence_ptr>> waiting_;  // guarded by mutex_; index: level - 1
  std::size_t waiting_count_{0};                   // guarded by mutex_
  std::uint64_t next_order_{0};                    // guarded by mutex_
  bool stopping_{false};                           // guarded by mutex_
  bool draining_{false};                           // guarded by mutex_
  clock::time_point drain_deadline_{};             // guarded by mutex_; meaningful while draining_
  std::function<void()> drained_;                  // guarded by mutex_; called once, outside it
  std::size_t unfinished_{0};                      // guarded by mutex_: admitted and not yet answered
  std::atomic<double> mean_sequence_seconds_{1.0};
  std::vector<std::thread> threads_;
};

}  // namespace surge
