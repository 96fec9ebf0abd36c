#pragma once

// A worker pool in discrete time for the policy's tests: arrivals from a
// trace, workers that serve a fixed throughput once their cold start is over,
// a backlog that grows by what they cannot serve. Time is a counter advanced
// by the test; nothing sleeps.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "autoscale/replica_policy.hpp"

namespace surge::autoscale::testing {

struct pool_model {
  std::chrono::microseconds batch_service_time{std::chrono::milliseconds(20)};
  double batch_size{4};  // with one instance per replica: 200 requests/s per replica
  std::chrono::seconds cold_start{10};
  std::chrono::seconds interval{15};  // between evaluations
};

class pool_simulation {
 public:
  pool_simulation(pool_model model, std::uint32_t live) : model_(model), live_(live) {}

  // One interval at `arrival_rate`, then a sample of it, evaluated; the
  // decision is applied (workers started, or stopped warming ones first).
  scale_decision step(replica_policy& policy, double arrival_rate) {
    now_ += model_.interval;
    const double dt = std::chrono::duration<double>(model_.interval).count();
    promote_warm();
    const double throughput = model_.batch_size / std::chrono::duration<double>(model_.batch_service_time).count();
    backlog_ = std::max(0.0, backlog_ + (arrival_rate - live_ * throughput) * dt);
    load_sample sample;
    sample.at = now_;
    sample.arrival_rate = arrival_rate;
    sample.batch_service_time = live_ > 0 ? model_.batch_service_time : std::chrono::microseconds(0);
    sample.mean_batch_size = live_ > 0 ? model_.batch_size : 0;
    sample.backlog = static_cast<std::uint64_t>(backlog_);
    const double wait_s = live_ > 0 ? backlog_ / (live_ * throughput) : 60.0;
    sample.p99_latency = model_.batch_service_time +
                         std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(wait_s));
    sample.live_replicas = live_;
    sample.warming_replicas = static_cast<std::uint32_t>(warming_since_.size());
    const scale_decision decision = policy.evaluate(sample);
    apply(decision.replicas);
    return decision;
  }

  std::uint32_t live() const { return live_; }
  std::uint32_t warming() const { return static_cast<std::uint32_t>(warming_since_.size()); }
  std::uint32_t total() const { return live() + warming(); }
  double backlog() const { return backlog_; }
  clock::time_point now() const { return now_; }

 private:
  void promote_warm() {
    std::erase_if(warming_since_, [&](clock::time_point since) {
      if (now_ - since < model_.cold_start) return false;
      ++live_;
      return true;
    });
  }

  void apply(std::uint32_t desired) {
    while (total() < desired) warming_since_.push_back(now_);
    while (total() > desired && !warming_since_.empty()) warming_since_.pop_back();
    while (total() > desired) --live_;
  }

  pool_model model_;
  std::uint32_t live_;
  std::vector<clock::time_point> warming_since_;
  double backlog_{0};
  clock::time_point now_{};
};

}  // namespace surge::autoscale::testing
