#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.hpp"
#include "features/feature_spec.hpp"
#include "redis/connection.hpp"
#include "redis/url.hpp"

namespace surge::features {

// An entity's static attributes (feature_spec::static_fields, NaN where the
// hash or the field is missing or not a number), read from the Redis hash
// <hash_prefix><entity> with one HMGET per entity not cached, all of a
// request's in one write, and kept for static_ttl_ms.
class static_attributes {
 public:
  static_attributes(boost::asio::any_io_executor io, redis::endpoint where, const feature_spec& spec);
  void start();
  void stop();  // not on an I/O thread

  // out[row] = the attributes of entities[row]; an error when Redis could
  // not be asked (the request is then answered unavailable).
  boost::asio::awaitable<std::optional<error>> fetch(const std::vector<std::string>& entities,
                                                     std::vector<std::vector<double>>& out);

 private:
  struct cached {
    std::vector<double> values;
    std::chrono::steady_clock::time_point expires;
  };

  const feature_spec& spec_;
  std::shared_ptr<redis::connection> connection_;
  std::mutex mutex_;
  std::unordered_map<std::string, cached> cache_;  // guarded by mutex_
};

}  // namespace surge::features
