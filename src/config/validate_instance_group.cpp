#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

void validate_instance_groups(problem_list& problems, const config::ModelConfig& config) {
  for (const auto& group : config.instance_group()) {
    const auto what = "group " + in_quotes(group.name());
    if (group.count() < 1) {
      problems.add("instance_group.count", what + " has count " + std::to_string(group.count()) + "; must be >= 1");
    }
    if (group.kind() == config::ModelInstanceGroup::KIND_GPU) {
      problems.add("instance_group.kind", "KIND_GPU is not supported by this build");
    }
    if (!group.gpus().empty()) {
      problems.add("instance_group.gpus", what + " lists GPUs, which this build does not support");
    }
  }
}

}  // namespace surge::config_validation
