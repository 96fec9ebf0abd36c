#include "autoscale/replica_policy.hpp"

#include <algorithm>
#include <cmath>

#include "autoscale/sizing.hpp"

namespace surge::autoscale {

namespace {

double seconds(std::chrono::duration<double> d) { return d.count(); }

// Rounds up, but a count that is an integer up to floating-point error stays it.
std::uint32_t whole_replicas(double replicas) {
  if (!(replicas > 0)) return 0;
  const double rounded = std::ceil(replicas - 1e-9);
  if (rounded >= 1e9) return 1'000'000'000u;
  return static_cast<std::uint32_t>(rounded);
}

}  // namespace

std::string_view name_of(scale_reason reason) {
  switch (reason) {
    case scale_reason::hold: return "hold";
    case scale_reason::load: return "load";
    case scale_reason::backlog: return "backlog";
    case scale_reason::latency: return "latency";
    case scale_reason::no_measurement: return "no_measurement";
    case scale_reason::stabilised_down: return "stabilised_down";
    case scale_reason::cooldown: return "cooldown";
    case scale_reason::min_replicas: return "min_replicas";
    case scale_reason::max_replicas: return "max_replicas";
  }
  return "unknown";
}

replica_policy::replica_policy(autoscaling_options options) : options_(options) {
  options_.max_replicas = std::max(options_.max_replicas, options_.min_replicas);
  options_.instances_per_replica = std::max(options_.instances_per_replica, 1u);
  if (!(options_.target_utilisation > 0) || options_.target_utilisation > 1) options_.target_utilisation = 1;
  if (!(options_.tolerance >= 0)) options_.tolerance = 0;
}

std::uint32_t replica_policy::clamp(std::uint32_t replicas) const {
  return std::clamp(replicas, options_.min_replicas, options_.max_replicas);
}

double replica_policy::warm_time_s(const load_sample& sample) const {
  const double cold_start_s = seconds(options_.cold_start);
  // Replicas already warming arrive when their cold start ends, not a whole
  // cold start from now: counting from now would grow the predicted backlog
  // at every evaluation and ask again for capacity that is already coming.
  if (sample.warming_replicas == 0 || !last_scale_up_) return cold_start_s;
  return std::max(0.0, cold_start_s - seconds(sample.at - *last_scale_up_));
}

void replica_policy::remember(clock::time_point at, std::uint32_t replicas) {
  while (!recent_.empty() && at - recent_.front().at > options_.scale_down_stabilization) recent_.pop_front();
  recent_.push_back({at, replicas});
}

std::uint32_t replica_policy::highest_recent() const {
  std::uint32_t highest = 0;
  for (const auto& r : recent_) highest = std::max(highest, r.replicas);
  return highest;
}

scale_decision replica_policy::evaluate(const load_sample& sample) {
  const std::uint32_t current = sample.live_replicas + sample.warming_replicas;
  // The first sample counts as a recommendation of what runs, so a restarted
  // driver waits a whole window before it scales anything down.
  if (!last_change_ && recent_.empty()) remember(sample.at, clamp(current));

  const double service_s = seconds(sample.batch_service_time);
  const double measured = replica_throughput(options_.instances_per_replica, sample.mean_batch_size, service_s);
  if (measured > 0) {
    throughput_per_replica_ = measured;
    batch_service_s_ = service_s;
  }

  scale_decision sized;
  if (throughput_per_replica_ <= 0) {
    const bool demand = sample.arrival_rate > 0 || sample.backlog > 0;
    return decide(sample, sized, demand ? std::max(current, 1u) : current, scale_reason::no_measurement);
  }

  const double target_s = seconds(options_.target_latency);
  const double live_throughput = sample.live_replicas * throughput_per_replica_;
  const double backlog = static_cast<double>(sample.backlog);
  // A backlog drains within what is left of the target once a batch has
  // run, but never planned faster than one cold start: requests queued while
  // capacity warms miss a target shorter than the cold start whatever is
  // asked for, and draining faster than more replicas could arrive only
  // buys replicas that stand idle once it is gone.
  const double drain_budget_s =
      std::max({target_s - batch_service_s_, seconds(options_.cold_start), batch_service_s_});
  sized.load_replicas = load_replicas(sample.arrival_rate, throughput_per_replica_, options_.target_utilisation);
  sized.backlog_replicas =
      backlog_replicas(backlog_at_join(backlog, sample.arrival_rate, live_throughput, warm_time_s(sample)),
                       sample.arrival_rate, throughput_per_replica_, drain_budget_s);
  sized.predicted_queue_wait_s = predicted_queue_wait_s(backlog, live_throughput);

  const double needed = std::max(sized.load_replicas, sized.backlog_replicas);
  scale_reason reason = sized.backlog_replicas > sized.load_replicas ? scale_reason::backlog : scale_reason::load;
  std::uint32_t wanted = whole_replicas(needed);
  // Growth within the tolerance is noise around a boundary, not load.
  if (wanted > current && current > 0 && needed <= current * (1 + options_.tolerance)) wanted = current;

  // The sizing trusts its measurements; the latency actually seen is the
  // check on them. While p99 misses the target and the queue did not shrink
  // since the last sample, one replica more, unless replicas are warming
  // (they are the answer being waited for, and the backlog grows until they
  // join) or one batch alone takes longer than the target (more replicas
  // would not make it faster).
  const bool queue_not_shrinking = previous_backlog_ && sample.backlog > 0 && sample.backlog >= *previous_backlog_;
  if (queue_not_shrinking && seconds(sample.p99_latency) > target_s && batch_service_s_ < target_s &&
      sample.warming_replicas == 0 && wanted <= current) {
    wanted = current + 1;
    reason = scale_reason::latency;
  }
  if (sample.warming_replicas == 0) {
    previous_backlog_ = sample.backlog;
  } else {
    previous_backlog_.reset();
  }
  return decide(sample, sized, wanted, reason);
}

scale_decision replica_policy::decide(const load_sample& sample, scale_decision sized, std::uint32_t wanted,
                                      scale_reason up_reason) {
  const std::uint32_t current = sample.live_replicas + sample.warming_replicas;
  const std::uint32_t bounded = clamp(wanted);
  remember(sample.at, bounded);

  const auto answer = [&](std::uint32_t replicas, scale_reason reason) {
    sized.replicas = replicas;
    sized.reason = reason;
    return sized;
  };
  const auto since = [&](const std::optional<clock::time_point>& t) { return sample.at - *t; };

  // Outside the bounds (the bounds changed, or a replica was started by
  // hand): back inside at once, whatever the cooldowns.
  if (current < options_.min_replicas || current > options_.max_replicas) {
    last_change_ = sample.at;
    if (current < options_.min_replicas) last_scale_up_ = sample.at;
    const std::uint32_t inside = clamp(std::max(current, bounded));
    return answer(inside, current < options_.min_replicas ? scale_reason::min_replicas : scale_reason::max_replicas);
  }

  if (wanted > current) {
    if (bounded <= current) return answer(current, scale_reason::max_replicas);
    if (last_scale_up_ && since(last_scale_up_) < options_.scale_up_cooldown) {
      return answer(current, scale_reason::cooldown);
    }
    last_scale_up_ = sample.at;
    last_change_ = sample.at;
    return answer(bounded, bounded < wanted ? scale_reason::max_replicas : up_reason);
  }

  const std::uint32_t stabilised = highest_recent();
  if (stabilised < current) {
    if (last_change_ && since(last_change_) < options_.scale_down_cooldown) {
      return answer(current, scale_reason::cooldown);
    }
    last_change_ = sample.at;
    return answer(stabilised, scale_reason::stabilised_down);
  }
  return answer(current, scale_reason::hold);
}

}  // namespace surge::autoscale
