#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/model_config.pb.h"
#include "core/inference_request.hpp"
#include "metrics/generation_metrics.hpp"
#include "metrics/model_metrics.hpp"
#include "model/output_labels.hpp"
#include "scheduler/model_scheduler.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge {

class backend_model;

// One loaded, servable version of a model: its configuration, the
// scheduler that owns its queue and instances, and what it reports.
//
// Lives as long as anyone holds it: the registry's snapshots, and every
// request admitted to it (its metering sink holds the version), so a version
// is never freed under a request. Taking it out of service is explicit, in
// two steps (the registry's unload does both): drain() stops admitting and
// reports when its queue and instances are empty; retire() then joins the
// instances, releases the backend and removes the metric series.
class model_version : public std::enable_shared_from_this<model_version> {
 public:
  model_version(config::ModelConfig config, std::int64_t version, metrics::registry& registry);
  // Stops the version if nobody did (blocking; the registry always retires
  // or stops its versions first, so this never blocks an I/O thread).
  ~model_version();

  const config::ModelConfig& config() const { return config_; }
  const std::string& name() const { return config_.name(); }
  // Serves text generation (config section `generation`).
  bool generative() const { return config_.has_generation(); }
  std::int64_t version() const { return version_; }
  // Generative models: the tokens of context (prompt and reply included) the
  // backend reports; 0 for other models. Set by the loader before start().
  std::uint32_t context_tokens() const { return context_tokens_; }
  void set_context_tokens(std::uint32_t tokens) { context_tokens_ = tokens; }
  bool ready() const { return ready_.load(std::memory_order_acquire); }

  // Checks the request against the config (inputs, datatypes, shapes,
  // outputs, batch size); on success fills in the deadline from the queue
  // policy and hands the request to the scheduler. Every outcome, including
  // refusal here, reaches the request's sink exactly once.
  void submit(request_ptr request);

  const batcher_options& options() const { return scheduler_options_; }
  model_metrics& metrics() { return metrics_; }
  // Generative models only.
  generation_metrics& generation() { return *generation_metrics_; }
  const model_statistics& statistics() const { return statistics_; }
  model_statistics& statistics() { return statistics_; }

  // Called once by the loader that made the version, before it is published.
  // `backend`: kept loaded while the version is; null for remote models,
  // whose workers reshape inputs for their own backend.
  void start(std::shared_ptr<request_scheduler> scheduler, std::shared_ptr<backend_model> backend);
  // The outputs' class labels (label_filename), for classifications. Set
  // before the version is published.
  void set_output_labels(std::shared_ptr<const output_labels> labels) { labels_ = std::move(labels); }

  // Stops admitting (ready() turns false, new requests are answered
  // not_ready); queued and running requests are answered normally, those
  // still queued at `deadline` not_ready. `drained` runs once, on a scheduler
  // thread, when nothing is left; it must not block. Any thread.
  void drain(clock::time_point deadline, std::function<void()> drained);
  // After `drained`: joins the instances, releases the backend, removes the
  // version's series from /metrics. Blocking; never on an I/O thread.
  void retire();
  // Both at once for shutdown: answers the queue not_ready, lets running
  // batches finish, then as retire(). Blocking; never on an I/O thread.
  void stop();

 private:
  void release();  // lifecycle_mutex_ held

  config::ModelConfig config_;
  std::int64_t version_;
  batcher_options scheduler_options_;
  model_metrics metrics_;
  std::unique_ptr<generation_metrics> generation_metrics_;
  model_statistics statistics_;
  // Both set by start() before the version is published and not changed
  // while requests may read them; backend_ is dropped by release() after the
  // instances are gone.
  std::shared_ptr<backend_model> backend_;
  std::shared_ptr<request_scheduler> scheduler_;
  std::shared_ptr<const output_labels> labels_;
  bool reshape_here_{false};
  std::uint32_t context_tokens_{0};
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};  // drain() or stop() was called
  // retire() and stop() may race (shutdown while an unload drains).
  std::mutex lifecycle_mutex_;
  bool released_{false};  // guarded by lifecycle_mutex_
};

}  // namespace surge
