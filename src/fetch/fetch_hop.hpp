#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <string>
#include <variant>
#include <vector>

#include "fetch/fetch_error.hpp"
#include "fetch/fetch_url.hpp"
#include "fetch/fetcher.hpp"

namespace surge::fetch {

// What one GET answered: a 2xx with its body, or a redirect with its Location.
struct hop_answer {
  unsigned status{0};
  std::string location;  // a 3xx redirect's Location; the body is not read
  std::string content_type;
  std::string body;
};

struct hop_request {
  const fetch_url& url;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;  // already checked by the policy
  std::chrono::steady_clock::time_point deadline;         // the fetch's total deadline
  const fetch_limits& limits;
  boost::asio::ssl::context& tls;  // used for https
};

// Connects to the first endpoint that accepts, runs one GET (TLS for https)
// and reads the body of a 2xx under max_body_bytes. Any other status but a
// redirect with a Location is an http_status error.
boost::asio::awaitable<std::variant<hop_answer, fetch_error>> run_hop(hop_request request);

bool is_redirect(unsigned status);

}  // namespace surge::fetch
