#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

void validate_dynamic_batching(problem_list& problems, const config::ModelConfig& config) {
  if (config.has_dispatch() && !config.has_dynamic_batching()) {
    problems.add("dispatch", "requires dynamic_batching");
  }
  if (!config.has_dynamic_batching()) return;
  const auto& batching = config.dynamic_batching();
  if (config.max_batch_size() <= 0) {
    problems.add("dynamic_batching", "requires max_batch_size > 0");
  }
  for (const auto size : batching.preferred_batch_size()) {
    if (size < 1 || size > config.max_batch_size()) {
      problems.add("dynamic_batching.preferred_batch_size",
                   std::to_string(size) + " is outside 1..max_batch_size (" + std::to_string(config.max_batch_size()) +
                       ")");
    }
  }
  const auto levels = batching.priority_levels();
  if (levels > 0) {
    const auto level = batching.default_priority_level();
    if (level < 1 || level > levels) {
      problems.add("dynamic_batching.default_priority_level",
                   std::to_string(level) + " is outside 1..priority_levels (" + std::to_string(levels) + ")");
    }
  } else if (batching.default_priority_level() != 0) {
    problems.add("dynamic_batching.default_priority_level", "is set but priority_levels is 0");
  }
  for (const auto& [level, policy] : batching.priority_queue_policy()) {
    if (level < 1 || level > levels) {
      problems.add("dynamic_batching.priority_queue_policy",
                   "level " + std::to_string(level) + " is outside 1..priority_levels (" + std::to_string(levels) +
                       ")");
    }
  }
  // max_queue_size is unsigned, as in Triton, so a negative value is already a
  // parse error that names the field.
}

}  // namespace surge::config_validation
