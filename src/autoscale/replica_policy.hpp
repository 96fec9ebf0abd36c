#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>

#include "autoscale/autoscaling_options.hpp"
#include "autoscale/load_sample.hpp"

namespace surge::autoscale {

enum class scale_reason {
  hold,            // the count fits the load (within the tolerance)
  load,            // up: Little's-law sizing of the arrival rate
  backlog,         // up: the backlog would not drain within the target latency
  latency,         // up: p99 over the target, queue not shrinking, nothing warming
  no_measurement,  // no batch has been measured yet: one replica to learn from
  stabilised_down, // down: to the highest count recommended over the window
  cooldown,        // a change was due but its cooldown has not passed
  min_replicas,    // raised to min_replicas
  max_replicas,    // capped at max_replicas
};

std::string_view name_of(scale_reason reason);

struct scale_decision {
  std::uint32_t replicas{0};  // desired total, warming replicas included
  scale_reason reason{scale_reason::hold};
  // What sizing computed, before rounding, bounds and windows (for logs and tests).
  double load_replicas{0};
  double backlog_replicas{0};
  double predicted_queue_wait_s{0};  // backlog ÷ live throughput
};

// Desired replica count of one worker-pool model's workers. Pure: it sees
// samples (with their times) and answers decisions; the driver measures,
// starts and stops workers. Not thread-safe: one driver evaluates it.
class replica_policy {
 public:
  explicit replica_policy(autoscaling_options options);

  scale_decision evaluate(const load_sample& sample);

  const autoscaling_options& options() const { return options_; }

 private:
  struct recommendation {
    clock::time_point at;
    std::uint32_t replicas;
  };

  std::uint32_t clamp(std::uint32_t replicas) const;
  double warm_time_s(const load_sample& sample) const;
  void remember(clock::time_point at, std::uint32_t replicas);
  std::uint32_t highest_recent() const;
  scale_decision decide(const load_sample& sample, scale_decision sized, std::uint32_t wanted,
                        scale_reason up_reason);

  autoscaling_options options_;
  double throughput_per_replica_{0};  // last measured; 0: never measured
  double batch_service_s_{0};
  // The backlog of the last sample taken with nothing warming.
  std::optional<std::uint64_t> previous_backlog_;
  std::deque<recommendation> recent_;  // within scale_down_stabilization
  std::optional<clock::time_point> last_scale_up_;
  std::optional<clock::time_point> last_change_;
};

}  // namespace surge::autoscale
