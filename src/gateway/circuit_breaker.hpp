#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/worker_pool_defaults.hpp"

namespace surge::gateway {

using clock = std::chrono::steady_clock;

// Whether a worker-pool model's requests may go to Redis or must fail at
// once (503 with the reason). Pure policy: the gateway tells it what it
// observes and asks before sending.
//
// Open when Redis has been unreachable for longer than redis_grace, when no
// worker heartbeated within the last worker_pool::live_heartbeats heartbeats, or
// when requests are outstanding and no reply arrived for stall_after. It
// closes again as soon as the observation that opened it no longer holds: a
// worker heartbeats, a reply arrives, Redis answers.
class circuit_breaker {
 public:
  struct options {
    // No reply for this long while requests are outstanding: the workers
    // are stuck or gone.
    std::chrono::milliseconds stall_after{worker_pool::stalled_claim_idles * worker_pool::default_claim_idle};
    // Redis may drop out this long (a restart) before requests fail fast;
    // meanwhile they wait for the reconnect.
    std::chrono::milliseconds redis_grace{1000};
  };

  enum class cause { none, redis_unreachable, no_live_worker, stalled };

  circuit_breaker(std::string model, options opts);

  // The number of workers whose heartbeat is recent (ZCOUNT), measured now.
  void observe_workers(std::int64_t live, clock::time_point now);
  void observe_reply(clock::time_point now);
  // Outstanding requests went from none to some.
  void observe_busy(clock::time_point now);
  void observe_redis(bool connected, std::string why, clock::time_point now);

  cause state(clock::time_point now, std::size_t outstanding) const;
  // nullopt when closed; else the message requests fail with.
  std::optional<std::string> open_reason(clock::time_point now, std::size_t outstanding) const;

  // When the worker count was last measured; nullopt: never.
  std::optional<clock::time_point> workers_measured_at() const { return workers_at_; }
  std::optional<std::int64_t> live_workers() const { return live_; }

 private:
  std::string model_;
  options options_;
  std::optional<std::int64_t> live_;
  std::optional<clock::time_point> workers_at_;
  std::optional<clock::time_point> last_reply_;
  clock::time_point busy_since_{};
  bool redis_connected_{true};
  clock::time_point redis_down_since_{};
  std::string redis_problem_;
};

}  // namespace surge::gateway
