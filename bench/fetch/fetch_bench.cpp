// Wall time of a batch of fetches from a loopback server that answers each
// request after a fixed latency, against the ideal
// ceil(urls / concurrency) x latency. Prints the machine and the command.
//
//   surge_bench_fetch [urls=1000] [concurrency=100] [per_host=100] [latency_ms=50] [client_threads=1]
#include <sys/utsname.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/version.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fetch/fetcher.hpp"
#include "fetch/local_http_server.hpp"

namespace {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace surge::fetch;
  const auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
  const long urls = arg(1, 1000);
  const long concurrency = arg(2, 100);
  const long per_host = arg(3, 100);
  const long latency_ms = arg(4, 50);
  const long client_threads = arg(5, 1);

  testing::local_http_server server([latency_ms](const std::string& target) {
    testing::canned_reply reply;
    reply.body = std::string(1024, 'x');
    reply.content_type = "image/png";
    reply.delay = std::chrono::milliseconds(latency_ms);
    return reply;
  });
  fetch_limits limits;
  limits.max_concurrency = static_cast<std::size_t>(concurrency);
  limits.max_per_host = static_cast<std::size_t>(per_host);
  limits.allowed.push_back(std::get<allowed_endpoint>(parse_allowed_endpoint(server.endpoint())));
  fetcher client(limits);
  std::vector<std::string> list;
  for (long i = 0; i < urls; ++i) list.push_back(server.url("/" + std::to_string(i) + ".png"));

  boost::asio::io_context io;
  const auto start = std::chrono::steady_clock::now();
  auto done = boost::asio::co_spawn(io, client.fetch_all(std::move(list)), boost::asio::use_future);
  std::vector<std::thread> threads;
  for (long i = 1; i < client_threads; ++i) threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : threads) thread.join();
  const auto results = done.get();
  const auto wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  long failed = 0;
  for (const auto& result : results) {
    if (auto* problem = std::get_if<fetch_error>(&result)) {
      if (failed++ == 0) std::fprintf(stderr, "first failure: %s\n", problem->message.c_str());
    }
  }
  const long rounds = (urls + concurrency - 1) / concurrency;
  const double ideal_ms = static_cast<double>(rounds * latency_ms);
  utsname host{};
  uname(&host);
  std::printf("machine: %s, %u hardware threads, %s %s; Boost %d.%d\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), host.sysname, host.release, BOOST_VERSION / 100000,
              BOOST_VERSION / 100 % 1000);
  std::printf("command: %s %ld %ld %ld %ld %ld\n", argv[0], urls, concurrency, per_host, latency_ms, client_threads);
  std::printf("urls %ld, concurrency %ld, per-host %ld, latency %ld ms, client threads %ld\n", urls, concurrency,
              per_host, latency_ms, client_threads);
  std::printf("wall %.1f ms, ideal %.1f ms (%ld rounds x %ld ms), overhead %.1f%%, failed %ld, server connections %d, "
              "most at once %d\n",
              wall_ms, ideal_ms, rounds, latency_ms, 100.0 * (wall_ms - ideal_ms) / ideal_ms, failed,
              server.connections(), server.most_at_once());
  return failed == 0 ? 0 : 1;
}
