#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

// What can be checked without the step models; the graph and the step
// models' tensors are checked when the ensemble loads (src/ensemble/).
void validate_ensemble(problem_list& problems, const config::ModelConfig& config) {
  const bool ensemble = config.platform() == "ensemble";
  if (!ensemble) {
    if (config.has_ensemble_scheduling()) {
      problems.add("ensemble_scheduling", "only a model with platform \"ensemble\" may have ensemble_scheduling");
    }
    return;
  }
  if (!config.backend().empty()) {
    problems.add("backend",
                 "an ensemble runs other models; it has no backend (got " + in_quotes(config.backend()) + ")");
  }
  if (config.has_worker_pool() || config.has_upstream() || config.has_generation()) {
    problems.add("platform", "an ensemble cannot also have worker_pool, upstream or generation");
  }
  if (config.model_transaction_policy().decoupled()) {
    problems.add("model_transaction_policy.decoupled", "an ensemble answers each request once; it cannot be decoupled");
  }
  if (!config.has_ensemble_scheduling() || config.ensemble_scheduling().step().empty()) {
    problems.add("ensemble_scheduling", "an ensemble needs at least one step");
    return;
  }
  const auto& steps = config.ensemble_scheduling().step();
  for (int i = 0; i < steps.size(); ++i) {
    const auto& step = steps[i];
    const std::string field = "ensemble_scheduling.step[" + std::to_string(i + 1) + "]";
    if (step.model_name().empty()) problems.add(field + ".model_name", "every step needs a model_name");
    if (step.model_name() == config.name()) problems.add(field + ".model_name", "an ensemble cannot run itself");
    if (step.model_version() < -1 || step.model_version() == 0) {
      problems.add(field + ".model_version",
                   "must be -1 (the latest) or a version number, got " + std::to_string(step.model_version()));
    }
    if (step.input_map().empty()) problems.add(field + ".input_map", "a step needs at least one input");
    if (step.output_map().empty()) problems.add(field + ".output_map", "a step needs at least one output");
  }
}

}  // namespace surge::config_validation
