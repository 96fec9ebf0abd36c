#pragma once

// The arithmetic of replica sizing, apart from the policy's state (windows,
// cooldowns), so each rule can be checked on its own numbers.
// Rates are per second, times in seconds, replica counts fractional (the
// policy rounds them up).

namespace surge::autoscale {

// Requests per second one replica completes when busy: its instances each
// run a batch of `mean_batch_size` requests per `batch_service_s`.
double replica_throughput(unsigned instances_per_replica, double mean_batch_size, double batch_service_s);

// Little's law: arrival × service time per request is the number of busy
// replicas; divided by the target utilisation for headroom.
double load_replicas(double arrival_rate, double throughput_per_replica, double target_utilisation);

// The backlog there will be when capacity asked for now starts serving,
// `warm_s` from now: the live replicas keep draining it (or fall behind)
// meanwhile. 0 when the live replicas clear it before then, and a backlog
// that is gone before new replicas arrive is no reason to start them.
double backlog_at_join(double backlog, double arrival_rate, double live_throughput, double warm_s);

// Replicas that serve the arrivals and drain `backlog` within `drain_budget_s`.
double backlog_replicas(double backlog, double arrival_rate, double throughput_per_replica, double drain_budget_s);

// How long a request arriving now waits behind the backlog on the live
// replicas; +inf when nothing serves.
double predicted_queue_wait_s(double backlog, double live_throughput);

}  // namespace surge::autoscale
