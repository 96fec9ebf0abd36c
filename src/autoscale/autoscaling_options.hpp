#pragma once

#include <chrono>
#include <cstdint>

namespace surge::autoscale {

// One model's scaling bounds and targets: the `autoscaling { }` block of
// docs/autoscaling.md. Durations are steady-clock spans; counts are worker
// processes (replicas), each with `instances_per_replica` backend instances.
struct autoscaling_options {
  std::uint32_t min_replicas{1};  // 0 allows scaling to zero when idle
  std::uint32_t max_replicas{1};
  // The latency every request should meet (compared with the measured p99,
  // and the time a backlog may take to drain).
  std::chrono::milliseconds target_latency{100};
  // Share of a replica's measured throughput that sizing plans to use; the
  // rest absorbs bursts. (0, 1].
  double target_utilisation{0.7};
  // Batches a replica runs at once (its instance_group count).
  std::uint32_t instances_per_replica{1};
  // Relative change of the computed replica count that is ignored, so that
  // noise around a boundary does not move the count.
  double tolerance{0.1};
  // Time from asking for a replica to its first batch (process start, model
  // load, warm-up inference): capacity asked for now arrives this much later.
  std::chrono::milliseconds cold_start{std::chrono::seconds(10)};
  // A scale-down goes only to the highest count recommended over this window.
  std::chrono::seconds scale_down_stabilization{std::chrono::seconds(300)};
  // Least time between two scale-ups (0: every evaluation may add).
  std::chrono::seconds scale_up_cooldown{std::chrono::seconds(0)};
  // Least time from any change to a scale-down.
  std::chrono::seconds scale_down_cooldown{std::chrono::seconds(60)};
};

}  // namespace surge::autoscale
