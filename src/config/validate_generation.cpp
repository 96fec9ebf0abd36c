#include <algorithm>
#include <cstdint>
#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

void validate_generation(problem_list& problems, const config::ModelConfig& config) {
  if (!config.has_generation()) return;
  const auto& generation = config.generation();
  if (config.has_admission()) {
    problems.add("admission",
                 "does not apply to a model with generation (its queue is bounded by generation.max_queue_size)");
  }
  if (config.has_dynamic_batching()) {
    problems.add("generation", "cannot be combined with dynamic_batching (generative models batch every step)");
  }
  if (config.max_batch_size() != 0) {
    problems.add("max_batch_size", "must be 0 for a model with generation (sequences are batched per step)");
  }
  if (!config.model_transaction_policy().decoupled()) {
    problems.add("model_transaction_policy.decoupled", "must be true for a model with generation (it streams tokens)");
  }
  const auto levels = std::max<std::uint32_t>(1, generation.priority_levels());
  if (generation.default_priority_level() > levels) {
    problems.add("generation.default_priority_level",
                 std::to_string(generation.default_priority_level()) + " is outside 1..priority_levels (" +
                     std::to_string(levels) + ")");
  }
  if (generation.max_tokens_limit() > 0 && generation.default_max_tokens() > generation.max_tokens_limit()) {
    problems.add("generation.default_max_tokens", "exceeds generation.max_tokens_limit");
  }
}

}  // namespace surge::config_validation
