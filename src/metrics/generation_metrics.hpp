#pragma once

#include <cstdint>
#include <string>

#include "metrics/registry.hpp"

namespace surge {

// Series of a generative model version, beside its model_metrics (which keep
// the end-to-end request and queue-time histograms for every model kind).
// Removed from /metrics as model_metrics are.
struct generation_metrics {
  generation_metrics(metrics::registry& registry, const std::string& model, std::int64_t version);

  void remove() { series.remove_all(); }

  metrics::series_group series;  // first: the references below point into it

  metrics::histogram& time_to_first_token;
  metrics::histogram& inter_token_latency;
  metrics::gauge& running_sequences;
  metrics::gauge& waiting_sequences;
  metrics::counter& prompt_tokens;
  metrics::counter& generated_tokens;
  metrics::counter& preemptions;
  metrics::histogram& step_sequences;
};

}  // namespace surge
