#pragma once

// Key names of the Redis Streams contract (docs/redis-streams.md).
#include <string>
#include <string_view>

namespace surge::streams {

inline constexpr std::string_view consumer_group = "surge-workers";

inline std::string requests_key(std::string_view model) { return "surge:" + std::string(model) + ":requests"; }
inline std::string workers_key(std::string_view model) { return "surge:" + std::string(model) + ":workers"; }
inline std::string dead_letter_key(std::string_view model) { return "surge:" + std::string(model) + ":dead"; }
inline std::string gateway_replies_key(std::string_view gateway_id) {
  return "surge:replies:" + std::string(gateway_id);
}

}  // namespace surge::streams
