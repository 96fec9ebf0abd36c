#pragma once

#include <chrono>
#include <cstdint>

namespace surge::autoscale {

using clock = std::chrono::steady_clock;

// What the driver measured over the last evaluation interval for one model.
// Rates and means are over the interval; counts are at `at`. A measurement
// that had nothing to measure (no batch ran) is zero and the policy keeps the
// last value it saw.
struct load_sample {
  clock::time_point at;
  double arrival_rate{0};                        // requests admitted per second
  std::chrono::microseconds batch_service_time{0};  // mean backend time per batch
  double mean_batch_size{0};                     // requests per executed batch
  std::uint64_t backlog{0};                      // queued requests + stream lag not yet read by a worker
  std::chrono::microseconds p99_latency{0};      // admission to final response; 0: not measured
  std::uint32_t live_replicas{0};                // warm workers heartbeating
  std::uint32_t warming_replicas{0};             // started, not yet warm: coming, not capacity
};

}  // namespace surge::autoscale
