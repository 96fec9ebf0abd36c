#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "metrics/registry.hpp"

namespace surge {

// How a request ended, as the surge_requests_total{outcome} label says it.
enum class request_outcome { success, invalid, rejected, timeout, cancelled, failed, unavailable };
constexpr std::size_t request_outcome_count = 7;
request_outcome outcome_of(const std::optional<error>& failure);

// Prometheus series of one model version, created at load. They leave
// /metrics at remove() (the version was unloaded and drained) or with this
// object; updates after remove() are harmless, since `series` still owns them.
struct model_metrics {
  model_metrics(metrics::registry& registry, const std::string& model, std::int64_t version);

  void count(request_outcome outcome) { outcomes[static_cast<std::size_t>(outcome)]->increment(); }
  void remove() { series.remove_all(); }

  metrics::series_group series;  // first: the references below point into it

  std::array<metrics::counter*, request_outcome_count> outcomes{};
  metrics::histogram& request_duration;
  metrics::histogram& queue_duration;
  metrics::histogram& compute_duration;
  metrics::histogram& batch_size;
  metrics::gauge& queue_depth;
  metrics::gauge& inflight;
  metrics::gauge& instances;
};

// Counts for Triton's statistics extension (GET /v2/models/{m}/stats).
struct duration_statistic {
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> ns{0};
  void add(std::chrono::nanoseconds d, std::uint64_t n = 1) {
    count.fetch_add(n, std::memory_order_relaxed);
    ns.fetch_add(static_cast<std::uint64_t>(d.count()), std::memory_order_relaxed);
  }
};

struct model_statistics {
  explicit model_statistics(std::size_t max_batch_rows)
      : batch_compute_infer(std::make_unique<duration_statistic[]>(max_batch_rows + 1)), max_rows(max_batch_rows) {}

  duration_statistic success;
  duration_statistic fail;
  duration_statistic queue;
  duration_statistic compute_input;
  duration_statistic compute_infer;
  duration_statistic compute_output;
  std::atomic<std::uint64_t> execution_count{0};
  std::atomic<std::uint64_t> inference_count{0};
  std::atomic<std::uint64_t> last_inference_ms{0};  // since the Unix epoch
  // Index: batch rows (1..max_rows).
  std::unique_ptr<duration_statistic[]> batch_compute_infer;
  std::size_t max_rows;
};

}  // namespace surge
