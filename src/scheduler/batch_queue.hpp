#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "core/inference_request.hpp"
#include "core/status.hpp"
#include "scheduler/batcher_options.hpp"

namespace surge {

// Estimates how long a batch of a given size takes to execute, from
// measurements of recent batches (exponentially weighted per size).
class execution_time_model {
 public:
  void record(std::size_t batch_rows, clock::duration elapsed);
  // Zero until something was measured; otherwise the estimate for the nearest
  // measured size at or above batch_rows (or the largest measured, scaled).
  clock::duration estimate(std::size_t batch_rows) const;

 private:
  static constexpr std::size_t max_tracked = 1024;
  std::vector<std::optional<double>> nanoseconds_by_rows_;
};

// The batching policy for one model version, without threads or clocks:
// the caller passes `now` and says whether an instance is free, which makes
// every decision reproducible in tests.
class batch_queue {
 public:
  explicit batch_queue(batcher_options options);

  // Admits a request or refuses it at once: unavailable (with retry_after)
  // when the queue is full, invalid_argument for a priority out of range.
  // On refusal `request` is left with the caller, who answers it.
  std::optional<error> push(request_ptr& request, clock::time_point now);

  struct decision {
    // Requests to run together, in queue order; empty when none is due.
    std::vector<request_ptr> batch;
    // Requests that must be answered without running.
    std::vector<request_ptr> expired;
    std::vector<request_ptr> cancelled;
    // When the queue wants to be polled again (a delay or deadline ends).
    std::optional<clock::time_point> wake_at;
  };

  // Drops cancelled and expired requests and, when an instance is free,
  // forms the next batch if one is due.
  decision poll(clock::time_point now, bool instance_free);

  // Feeds the deadline-aware policy and the Retry-After estimate.
  void record_execution(std::size_t batch_rows, std::size_t requests, clock::duration elapsed, clock::time_point now);

  std::size_t size() const { return size_; }
  const batcher_options& options() const { return options_; }
  std::chrono::seconds retry_after() const;

 private:
  bool can_share_batch(const inference_request& a, const inference_request& b) const;
  std::size_t level_of(const inference_request& request) const;

  batcher_options options_;
  std::vector<std::deque<request_ptr>> levels_;  // index 0: priority level 1
  std::size_t size_{0};
  execution_time_model execution_times_;
  // Requests completed per second, smoothed; drives Retry-After.
  double drain_rate_per_second_{0.0};
  std::optional<clock::time_point> last_completion_;
};

}  // namespace surge
