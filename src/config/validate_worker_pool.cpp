#include <string>

#include "config/validation.hpp"
#include "config/worker_pool_defaults.hpp"

namespace surge::config_validation {

void validate_worker_pool(problem_list& problems, const config::ModelConfig& config) {
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
