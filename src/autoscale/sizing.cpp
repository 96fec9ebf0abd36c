#include "autoscale/sizing.hpp"

#include <algorithm>
#include <limits>

namespace surge::autoscale {

double replica_throughput(unsigned instances_per_replica, double mean_batch_size, double batch_service_s) {
  if (batch_service_s <= 0 || mean_batch_size <= 0) return 0;
  return static_cast<double>(instances_per_replica) * mean_batch_size / batch_service_s;
}

double load_replicas(double arrival_rate, double throughput_per_replica, double target_utilisation) {
  if (arrival_rate <= 0) return 0;
  return arrival_rate / throughput_per_replica / target_utilisation;
}

double backlog_at_join(double backlog, double arrival_rate, double live_throughput, double warm_s) {
  return std::max(0.0, backlog + (arrival_rate - live_throughput) * warm_s);
}

double backlog_replicas(double backlog, double arrival_rate, double throughput_per_replica, double drain_budget_s) {
  if (backlog <= 0) return 0;
  // Draining uses the replicas' whole throughput: the utilisation headroom is
  // for steady load, and the backlog is what the headroom is spent on.
  return (std::max(0.0, arrival_rate) + backlog / drain_budget_s) / throughput_per_replica;
}

double predicted_queue_wait_s(double backlog, double live_throughput) {
  if (backlog <= 0) return 0;
  if (live_throughput <= 0) return std::numeric_limits<double>::infinity();
  return backlog / live_throughput;
}

}  // namespace surge::autoscale
