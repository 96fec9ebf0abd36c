#include <algorithm>
#include <cstdint>
#include <string>

#include "config/validation.hpp"
#include "config/worker_pool_defaults.hpp"

namespace surge::config_validation {

namespace {

// Local workers are processes on this machine; more than this is a typo.
constexpr std::uint32_t max_local_replicas = 64;

void validate_autoscaling(problem_list& problems, const config::ModelConfig& config) {
  if (!config.has_autoscaling()) return;
  const auto& scaling = config.autoscaling();
  if (!config.has_worker_pool() || config.worker_pool().local_workers() == 0) {
    problems.add("autoscaling", "scales a worker_pool model's local workers: it needs worker_pool.local_workers > 0");
  }
  const auto min_replicas = std::max<std::uint32_t>(scaling.min_replicas(), 1);
  if (scaling.max_replicas() == 0) {
    problems.add("autoscaling.max_replicas", "is required");
  } else if (scaling.max_replicas() < min_replicas) {
    problems.add("autoscaling.max_replicas", std::to_string(scaling.max_replicas()) + " is below min_replicas (" +
                                                 std::to_string(min_replicas) + ")");
  } else if (scaling.max_replicas() > max_local_replicas) {
    problems.add("autoscaling.max_replicas", std::to_string(scaling.max_replicas()) + " is above " +
                                                 std::to_string(max_local_replicas) + " local workers");
  }
  if (!(scaling.target_utilisation() >= 0) || scaling.target_utilisation() > 1) {
    problems.add("autoscaling.target_utilisation", "must be in (0, 1]");
  }
  if (!(scaling.tolerance() >= 0) || scaling.tolerance() > 1) {
    problems.add("autoscaling.tolerance", "must be in [0, 1]");
  }
  if (scaling.evaluation_interval_ms() != 0 && scaling.evaluation_interval_ms() < 100) {
    problems.add("autoscaling.evaluation_interval_ms", "must be at least 100");
  }
}

}  // namespace

void validate_worker_pool(problem_list& problems, const config::ModelConfig& config) {
  validate_autoscaling(problems, config);
  if (config.has_worker_pool() && config.has_upstream()) {
    problems.add("worker_pool", "a model runs on a worker pool or an upstream API, not both");
  }
  if (!config.has_worker_pool()) return;
  const auto& pool = config.worker_pool();
  const auto heartbeat = worker_pool::heartbeat_or_default(pool.heartbeat_ms()).count();
  const auto claim_idle = worker_pool::claim_idle_or_default(pool.claim_idle_ms()).count();
  // Workers re-claim long batches every heartbeat; a claim_idle no longer
  // than that would let another worker take (and run again) a batch that
  // is still running.
  if (claim_idle <= heartbeat) {
    problems.add("worker_pool.claim_idle_ms", std::to_string(claim_idle) + " must be longer than heartbeat_ms (" +
                                                  std::to_string(heartbeat) + ")");
  }
}

}  // namespace surge::config_validation
