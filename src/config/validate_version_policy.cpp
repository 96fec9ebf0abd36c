#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

void validate_version_policy(problem_list& problems, const config::ModelConfig& config) {
  const auto& policy = config.version_policy();
  if (!policy.has_specific()) return;
  if (policy.specific().versions().empty()) {
    problems.add("version_policy.specific.versions", "must list at least one version");
  }
  for (const auto version : policy.specific().versions()) {
    if (version <= 0) {
      problems.add("version_policy.specific.versions",
                   std::to_string(version) + " is not a version; versions are >= 1");
    }
  }
}

}  // namespace surge::config_validation
