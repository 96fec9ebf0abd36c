#pragma once

// The defaults of config.pbtxt's worker_pool section (a field left at 0
// takes them) and the rules the Redis Streams contract (docs/redis-streams.md)
// derives from its timings. Defined once for the config validation, the
// gateway and the workers; here because all three may include config, while
// config itself is a foundation that includes nothing above core. The
// stream caps are in streams/limits.hpp. The Python SDK
// (clients/python/surge_client/protocol.py) keeps its own copies, which
// tests/e2e/test_shared_defaults.py holds equal to these, along with the
// docs that state them.
#include <chrono>
#include <cstdint>

namespace surge::worker_pool {

// worker_pool.heartbeat_ms: workers heartbeat this often.
inline constexpr std::chrono::milliseconds default_heartbeat{1000};
// worker_pool.claim_idle_ms: a pending entry idle this long belongs to a dead
// worker and is claimed by another.
inline constexpr std::chrono::milliseconds default_claim_idle{5000};
// worker_pool.max_deliveries: an entry delivered more often than this goes
// to the dead-letter stream.
inline constexpr std::uint32_t default_max_deliveries = 3;

// A worker whose last heartbeat is older than this many heartbeats is not live.
inline constexpr int live_heartbeats = 3;
// Requests outstanding and no reply for this many claim_idle periods: the
// workers are stuck or gone, and the gateway fails requests fast.
inline constexpr int stalled_claim_idles = 3;

// A field's value, or its default when the config leaves it 0.
inline constexpr std::chrono::milliseconds heartbeat_or_default(std::uint32_t heartbeat_ms) {
  return heartbeat_ms == 0 ? default_heartbeat : std::chrono::milliseconds(heartbeat_ms);
}
inline constexpr std::chrono::milliseconds claim_idle_or_default(std::uint32_t claim_idle_ms) {
  return claim_idle_ms == 0 ? default_claim_idle : std::chrono::milliseconds(claim_idle_ms);
}
inline constexpr std::uint32_t max_deliveries_or_default(std::uint32_t max_deliveries) {
  return max_deliveries == 0 ? default_max_deliveries : max_deliveries;
}

}  // namespace surge::worker_pool
