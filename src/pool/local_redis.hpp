#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>

#include "core/status.hpp"
#include "pool/child_process.hpp"

namespace surge::pool {

struct local_redis_options {
  std::string program{"redis-server"};
  std::string host{"127.0.0.1"};
  // 0: a free port, picked again if redis-server loses the race for it.
  std::uint16_t port{0};
  // Its working directory: the append-only file, if any, lives here.
  std::filesystem::path directory;
  bool append_only{false};
  // redis-server's own log; empty: inherited stdout.
  std::filesystem::path log_file;
  std::chrono::milliseconds ready_timeout{10000};
};

// A redis-server child process on loopback, for `surge serve` without
// --redis and for tests. Blocking: start() returns once it answers PING.
class local_redis {
 public:
  static std::variant<local_redis, error> start(local_redis_options options);

  std::uint16_t port() const { return port_; }
  std::string url() const { return "redis://" + options_.host + ":" + std::to_string(port_); }
  child_process& process() { return process_; }
  const local_redis_options& options() const { return options_; }

  // SIGTERM (redis-server saves the append-only file and exits), then
  // SIGKILL if it has not exited within `limit`.
  void stop(std::chrono::milliseconds limit = std::chrono::seconds(10));
  // Starts a new redis-server on the same port and directory after stop() or
  // a crash.
  std::optional<error> restart();

 private:
  local_redis(local_redis_options options, std::uint16_t port, child_process process)
      : options_(std::move(options)), port_(port), process_(std::move(process)) {}

  local_redis_options options_;
  std::uint16_t port_;
  child_process process_;
};

// True when a Redis on host:port answers PING within `limit`. Blocking.
bool redis_answers_ping(const std::string& host, std::uint16_t port, std::chrono::milliseconds limit);

}  // namespace surge::pool
