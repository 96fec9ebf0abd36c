#pragma once

// A real redis-server for tests, on a free loopback port in a scratch
// directory, stopped with the fixture.
#include <gtest/gtest.h>

#include <optional>

#include "pool/local_redis.hpp"
#include "support/temp_dir.hpp"

namespace surge::testing {

class redis_server {
 public:
  explicit redis_server(bool append_only = false) {
    pool::local_redis_options options;
    options.directory = dir_.path();
    options.append_only = append_only;
    options.log_file = dir_.path() / "redis.log";
    auto started = pool::local_redis::start(options);
    if (auto* failure = std::get_if<error>(&started)) {
      problem_ = failure->message;
      return;
    }
    redis_.emplace(std::get<pool::local_redis>(std::move(started)));
  }
  ~redis_server() {
    if (redis_) redis_->stop();
  }

  // Empty when it started; tests skip with this message otherwise.
  const std::string& problem() const { return problem_; }
  pool::local_redis& get() { return *redis_; }
  std::uint16_t port() const { return redis_->port(); }
  std::string url() const { return redis_->url(); }

 private:
  temp_dir dir_{"surge_redis"};
  std::optional<pool::local_redis> redis_;
  std::string problem_;
};

}  // namespace surge::testing
