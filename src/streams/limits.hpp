#pragma once

// The caps on the streams of the Redis Streams contract
// (docs/redis-streams.md), for the gateway and the workers alike. The Python
// SDK's copy (surge_client.protocol.REPLY_MAXLEN) and the docs are held equal
// to these by tests/e2e/test_shared_defaults.py; the worker_pool timings are
// in config/worker_pool_defaults.hpp.
#include <cstddef>

namespace surge::streams {

// Reply streams are capped at about this many entries (XADD MAXLEN ~).
inline constexpr std::size_t reply_stream_max_length = 10000;
// Dead-letter streams are capped the same way.
inline constexpr std::size_t dead_letter_max_length = 10000;

}  // namespace surge::streams
