#include "metrics/model_metrics.hpp"

namespace surge {

namespace {
constexpr std::array<const char*, request_outcome_count> outcome_names{
    "success", "invalid", "rejected", "timeout", "cancelled", "failed", "unavailable"};
}

request_outcome outcome_of(const std::optional<error>& failure) {
  if (!failure) return request_outcome::success;
  switch (failure->code) {
    case error_code::invalid_argument:
    case error_code::not_found:
      return request_outcome::invalid;
    case error_code::unavailable:
      return request_outcome::rejected;
    case error_code::deadline_exceeded:
      return request_outcome::timeout;
    case error_code::cancelled:
      return request_outcome::cancelled;
    case error_code::not_ready:
      return request_outcome::unavailable;
    case error_code::internal:
      break;
  }
  return request_outcome::failed;
}

model_metrics::model_metrics(metrics::registry& registry, const std::string& model, std::int64_t version)
    : series(registry),
      request_duration(series.make_histogram("surge_request_duration_seconds",
                                               "Time from admission to the final response, per request.",
                                               {{"model", model}, {"version", std::to_string(version)}},
                                               metrics::duration_buckets())),
      queue_duration(series.make_histogram("surge_queue_duration_seconds",
                                             "Time a request waited in the scheduler queue before its batch started.",
                                             {{"model", model}, {"version", std::to_string(version)}},
                                             metrics::duration_buckets())),
      compute_duration(series.make_histogram("surge_compute_duration_seconds",
                                               "Time a batch spent in the backend, per batch.",
                                               {{"model", model}, {"version", std::to_string(version)}},
                                               metrics::duration_buckets())),
      batch_size(series.make_histogram("surge_batch_size", "Rows per executed batch.",
                                         {{"model", model}, {"version", std::to_string(version)}},
                                         metrics::batch_size_buckets())),
      queue_depth(series.make_gauge("surge_queue_depth", "Requests waiting in the scheduler queue.",
                                      {{"model", model}, {"version", std::to_string(version)}})),
      inflight(series.make_gauge("surge_inflight_requests", "Requests admitted and not yet answered.",
                                   {{"model", model}, {"version", std::to_string(version)}})),
      instances(series.make_gauge("surge_instances", "Execution instances serving the model version.",
                                    {{"model", model}, {"version", std::to_string(version)}})) {
  for (std::size_t i = 0; i < request_outcome_count; ++i) {
    outcomes[i] = &series.make_counter(
        "surge_requests_total", "Inference requests by how they ended.",
        {{"model", model}, {"version", std::to_string(version)}, {"outcome", outcome_names[i]}});
  }
}

}  // namespace surge
