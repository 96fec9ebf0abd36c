#include "metrics/generation_metrics.hpp"

namespace surge {

namespace {
metrics::labels labels_of(const std::string& model, std::int64_t version) {
  return {{"model", model}, {"version", std::to_string(version)}};
}
}  // namespace

generation_metrics::generation_metrics(metrics::registry& registry, const std::string& model, std::int64_t version)
    : series(registry),
      time_to_first_token(series.make_histogram("surge_time_to_first_token_seconds",
                                                  "Time from admission to the first generated token.",
                                                  labels_of(model, version), metrics::duration_buckets())),
      inter_token_latency(series.make_histogram("surge_inter_token_latency_seconds",
                                                  "Time between consecutive tokens of one sequence.",
                                                  labels_of(model, version), metrics::duration_buckets())),
      running_sequences(series.make_gauge("surge_generation_running_sequences",
                                            "Sequences holding a KV-cache slot and decoding.",
                                            labels_of(model, version))),
      waiting_sequences(series.make_gauge("surge_generation_waiting_sequences",
                                            "Sequences waiting for a slot (new or preempted).",
                                            labels_of(model, version))),
      prompt_tokens(series.make_counter("surge_prompt_tokens_total", "Prompt tokens prefilled (first admission).",
                                          labels_of(model, version))),
      generated_tokens(series.make_counter("surge_generation_tokens_total", "Tokens generated.",
                                             labels_of(model, version))),
      preemptions(series.make_counter("surge_generation_preemptions_total",
                                        "Running sequences paused for a waiting higher-priority one.",
                                        labels_of(model, version))),
      step_sequences(series.make_histogram("surge_generation_step_sequences", "Sequences decoded per step.",
                                             labels_of(model, version), metrics::batch_size_buckets())) {}

}  // namespace surge
