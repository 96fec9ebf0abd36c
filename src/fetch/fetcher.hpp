#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fetch/address_policy.hpp"
#include "fetch/fetch_error.hpp"
#include "fetch/host_resolver.hpp"

namespace surge::fetch {

struct fetch_limits {
  std::size_t max_concurrency{64};  // fetches connected at once, over all hosts; more wait their turn
  std::size_t max_per_host{8};      // fetches connected at once to one host name (or IP literal)
  std::chrono::milliseconds connect_timeout{5000};  // per hop: TCP connect, every address tried
  // From admission to the last body byte, over every redirect hop (time
  // queued for a redirect hop's admission counts; it is checked on admission).
  std::chrono::milliseconds total_timeout{30000};
  std::uint64_t max_body_bytes{20u << 20};  // Content-Length refused up front; other bodies counted as read
  unsigned max_redirects{3};
  bool verify_tls{true};  // peer certificate against the system CA store, and the host name
  std::string ca_file;    // PEM bundle used instead of the system store, when not empty
  // Endpoints connected to although the address policy refuses their address.
  std::vector<allowed_endpoint> allowed;
};

// Downloads http(s) URLs on the caller's executor, under fetch_limits. Every
// hop resolves the host once, checks each address against the policy
// (address_policy.hpp) and connects only to an address that passed: there is
// no second lookup for a rebinding DNS server to answer differently.
// Thread-safe; fetches hold what they use, so the fetcher may be destroyed
// while fetches run.
class fetcher {
 public:
  explicit fetcher(fetch_limits limits, std::shared_ptr<host_resolver> resolver = make_system_resolver());
  ~fetcher();
  fetcher(const fetcher&) = delete;
  fetcher& operator=(const fetcher&) = delete;

  boost::asio::awaitable<fetch_result> fetch(std::string url);

  // One result per URL, in the order given; all run concurrently under the
  // limits, and one failure never affects the others.
  boost::asio::awaitable<std::vector<fetch_result>> fetch_all(std::vector<std::string> urls);

  const fetch_limits& limits() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace surge::fetch
