#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ensemble/ensemble_plan.hpp"
#include "metrics/registry.hpp"

namespace surge::ensemble {

// Per-step series of one ensemble version. The ensemble's own requests and
// latency are its model_version's series (surge_requests_total,
// surge_request_duration_seconds with model="<ensemble>"), and each step's
// requests count in its step model's series as any request does; these say
// how long each step took inside the ensemble and how often it failed.
struct ensemble_metrics {
  ensemble_metrics(metrics::registry& registry, const ensemble_plan& plan, std::int64_t version);

  void remove() { series.remove_all(); }

  metrics::series_group series;  // first: the pointers below point into it
  std::vector<metrics::histogram*> step_duration;  // by step index
  std::vector<metrics::counter*> step_failures;    // by step index
};

}  // namespace surge::ensemble
