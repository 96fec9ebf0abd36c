#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/model_config.pb.h"
#include "core/inference_request.hpp"
#include "metrics/generation_metrics.hpp"
#include "metrics/model_metrics.hpp"
#include "scheduler/model_scheduler.hpp"
#include "scheduler/request_scheduler.hpp"

namespace surge {

class backend_model;

// One loaded, servable version of a model: its configuration, the
// scheduler that owns its queue and instances, and what it reports.
class model_version {
 public:
  model_version(config::ModelConfig config, std::int64_t version, metrics::registry& registry);
  ~model_version();

  const config::ModelConfig& config() const { return config_; }
  const std::string& name() const { return config_.name(); }
  // Serves text generation (config section `generation`).
  bool generative() const { return config_.has_generation(); }
  std::int64_t version() const { return version_; }
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

  // Called once by the registry when loading succeeded.
  void start(std::shared_ptr<request_scheduler> scheduler, std::shared_ptr<backend_model> backend);
  void stop();

 private:
  config::ModelConfig config_;
  std::int64_t version_;
  batcher_options scheduler_options_;
  model_metrics metrics_;
  std::unique_ptr<generation_metrics> generation_metrics_;
  model_statistics statistics_;
  std::shared_ptr<backend_model> backend_;
  std::shared_ptr<request_scheduler> scheduler_;
  std::atomic<bool> ready_{false};
};

}  // namespace surge
