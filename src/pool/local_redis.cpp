#include "pool/local_redis.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "pool/free_port.hpp"

namespace surge::pool {

namespace {

using steady = std::chrono::steady_clock;

int remaining_ms(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::variant<child_process, error> spawn_redis(const local_redis_options& options, std::uint16_t port) {
  spawn_options spawn;
  spawn.argv = {options.program,
                "--port",
                std::to_string(port),
                "--bind",
                options.host,
                "--save",
                "",
                "--appendonly",
                options.append_only ? "yes" : "no",
                "--dir",
                options.directory.string(),
                "--protected-mode",
                "no"};
  spawn.output_file = options.log_file;
  return child_process::spawn(spawn);
}

// Waits until the child answers PING, or exits, or the deadline passes.
std::optional<error> wait_ready(child_process& process, const std::string& host, std::uint16_t port,
                                std::chrono::milliseconds limit) {
  const auto deadline = steady::now() + limit;
  auto retry_in = std::chrono::milliseconds(2);
  for (;;) {
    if (redis_answers_ping(host, port, std::chrono::milliseconds(500))) return std::nullopt;
    if (auto status = process.try_wait()) {
      return make_error(error_code::internal, "redis-server on port " + std::to_string(port) + " " +
                                                  describe_wait_status(*status) + " before it answered");
    }
    if (steady::now() >= deadline) {
      return make_error(error_code::internal, "redis-server on port " + std::to_string(port) +
                                                  " did not answer PING within " + std::to_string(limit.count()) +
                                                  " ms");
    }
    // Wakes early when the child exits instead of answering.
    process.wait_for(std::min(retry_in, std::chrono::milliseconds(remaining_ms(deadline))));
    retry_in = std::min(retry_in * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace

bool redis_answers_ping(const std::string& host, std::uint16_t port, std::chrono::milliseconds limit) {
  const auto deadline = steady::now() + limit;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return false;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    constexpr std::string_view ping = "*1\r\n$4\r\nPING\r\n";
    if (::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(ping.size())) {
      std::string answer;
      char buffer[64];
      while (answer.find("\r\n") == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) <= 0) break;
        const auto got = ::recv(fd, buffer, sizeof buffer, 0);
        if (got <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(got));
      }
      // "-LOADING" while it reads its append-only file: not ready yet.
      ok = answer.starts_with("+PONG");
    }
  }
  ::close(fd);
  return ok;
}

std::variant<local_redis, error> local_redis::start(local_redis_options options) {
  std::error_code ec;
  std::filesystem::create_directories(options.directory, ec);
  if (ec) {
    return make_error(error_code::internal, "cannot create " + options.directory.string() + ": " + ec.message());
  }
  const bool fixed_port = options.port != 0;
  std::optional<error> last;
  for (int attempt = 0; attempt < (fixed_port ? 1 : 5); ++attempt) {
    std::uint16_t port = options.port;
    if (!fixed_port) {
      auto picked = pick_free_port(options.host);
      if (auto* failure = std::get_if<error>(&picked)) return *failure;
      port = std::get<std::uint16_t>(picked);
    }
    auto spawned = spawn_redis(options, port);
    if (auto* failure = std::get_if<error>(&spawned)) return *failure;
    auto process = std::get<child_process>(std::move(spawned));
    last = wait_ready(process, options.host, port, options.ready_timeout);
    if (!last) return local_redis(std::move(options), port, std::move(process));
    process.signal(SIGKILL);
    process.wait_for(std::chrono::seconds(5));
  }
  return *last;
}

void local_redis::stop(std::chrono::milliseconds limit) {
  if (!process_.running()) return;
  process_.signal(SIGTERM);
  if (!process_.wait_for(limit)) {
    process_.signal(SIGKILL);
    process_.wait_for(std::chrono::seconds(5));
  }
}

std::optional<error> local_redis::restart() {
  stop();
  auto spawned = spawn_redis(options_, port_);
  if (auto* failure = std::get_if<error>(&spawned)) return *failure;
  process_ = std::get<child_process>(std::move(spawned));
  return wait_ready(process_, options_.host, port_, options_.ready_timeout);
}

}  // namespace surge::pool
