#include "gateway/circuit_breaker.hpp"

#include <algorithm>

namespace surge::gateway {

circuit_breaker::circuit_breaker(std::string model, options opts) : model_(std::move(model)), options_(opts) {}

void circuit_breaker::observe_workers(std::int64_t live, clock::time_point now) {
  live_ = live;
  workers_at_ = now;
}

void circuit_breaker::observe_reply(clock::time_point now) { last_reply_ = now; }

void circuit_breaker::observe_busy(clock::time_point now) { busy_since_ = now; }

void circuit_breaker::observe_redis(bool connected, std::string why, clock::time_point now) {
  if (!connected && redis_connected_) redis_down_since_ = now;
  redis_connected_ = connected;
  if (!connected) redis_problem_ = std::move(why);
}

circuit_breaker::cause circuit_breaker::state(clock::time_point now, std::size_t outstanding) const {
  if (!redis_connected_ && now - redis_down_since_ >= options_.redis_grace) return cause::redis_unreachable;
  if (live_ && *live_ <= 0) return cause::no_live_worker;
  if (outstanding > 0) {
    const auto progress = std::max(busy_since_, last_reply_.value_or(clock::time_point{}));
    if (now - progress >= options_.stall_after) return cause::stalled;
  }
  return cause::none;
}

std::optional<std::string> circuit_breaker::open_reason(clock::time_point now, std::size_t outstanding) const {
  switch (state(now, outstanding)) {
    case cause::none:
      return std::nullopt;
    case cause::redis_unreachable:
      return "model '" + model_ + "' cannot reach its workers: " +
             (redis_problem_.empty() ? std::string("redis is unreachable") : redis_problem_);
    case cause::no_live_worker:
      return "no live worker for model '" + model_ + "'";
    case cause::stalled: {
      const auto progress = std::max(busy_since_, last_reply_.value_or(clock::time_point{}));
      const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - progress).count();
      return "workers of model '" + model_ + "' have not answered for " + std::to_string(silent) + " ms with " +
             std::to_string(outstanding) + " requests outstanding";
    }
  }
  return std::nullopt;
}

}  // namespace surge::gateway
