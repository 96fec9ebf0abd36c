#include "ensemble/ensemble_metrics.hpp"

namespace surge::ensemble {

ensemble_metrics::ensemble_metrics(metrics::registry& registry, const ensemble_plan& plan, std::int64_t version)
    : series(registry) {
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const metrics::labels labels{{"model", plan.name},
                                 {"version", std::to_string(version)},
                                 {"step", std::to_string(i + 1)},
                                 {"step_model", plan.steps[i].model_name}};
    step_duration.push_back(&series.make_histogram("surge_ensemble_step_duration_seconds",
                                                   "Time from submitting an ensemble step to its final response.",
                                                   labels, metrics::duration_buckets()));
    step_failures.push_back(&series.make_counter("surge_ensemble_step_failures_total",
                                                 "Ensemble steps that ended with an error.", labels));
  }
}

}  // namespace surge::ensemble
