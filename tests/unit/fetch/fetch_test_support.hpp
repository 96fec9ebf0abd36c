#pragma once

// What the fetcher tests share: a table resolver, a runner for one
// coroutine, and accessors that fail the test on the other alternative.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <thread>

#include "fetch/fetcher.hpp"
#include "fetch/local_http_server.hpp"

namespace surge::fetch::testing {

namespace asio = boost::asio;

// Names to addresses, without DNS; counts lookups.
class table_resolver final : public host_resolver {
 public:
  explicit table_resolver(std::map<std::string, std::vector<std::string>> table) : table_(std::move(table)) {}
  asio::awaitable<std::variant<std::vector<asio::ip::address>, std::string>> resolve(std::string host) override {
    ++lookups;
    auto entry = table_.find(host);
    if (entry == table_.end()) co_return std::string("Host not found (authoritative)");
    std::vector<asio::ip::address> addresses;
    for (const auto& text : entry->second) addresses.push_back(asio::ip::make_address(text));
    co_return addresses;
  }
  std::atomic<int> lookups{0};

 private:
  std::map<std::string, std::vector<std::string>> table_;
};

inline fetch_limits allowing(std::initializer_list<const local_http_server*> servers) {
  fetch_limits limits;
  for (const auto* server : servers) {
    limits.allowed.push_back(std::get<allowed_endpoint>(parse_allowed_endpoint(server->endpoint())));
  }
  return limits;
}

// Runs a fetch to completion on a fresh io_context with `threads` threads.
template <class T>
T run(asio::awaitable<T> work, int threads = 1) {
  asio::io_context io;
  auto done = asio::co_spawn(io, std::move(work), asio::use_future);
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& thread : extra) thread.join();
  return done.get();
}

inline const fetched_body& body_of(const fetch_result& result) {
  if (auto* problem = std::get_if<fetch_error>(&result)) ADD_FAILURE() << problem->message;
  static const fetched_body none;
  return std::get_if<fetched_body>(&result) ? std::get<fetched_body>(result) : none;
}

inline fetch_error error_of(const fetch_result& result) {
  if (std::holds_alternative<fetched_body>(result)) {
    ADD_FAILURE() << "fetched " << std::get<fetched_body>(result).url;
    return {fetch_errc::transfer_failed, "fetched"};
  }
  return std::get<fetch_error>(result);
}

}  // namespace surge::fetch::testing
