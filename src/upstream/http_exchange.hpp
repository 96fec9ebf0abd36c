#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "upstream/upstream_url.hpp"

namespace surge::upstream {

struct http_reply {
  // Empty when the exchange succeeded at the HTTP level (any status).
  std::string failure;
  bool timed_out{false};
  unsigned status{0};
  std::string body;
  std::optional<std::size_t> json_length;  // Inference-Header-Content-Length
};

// One keep-alive HTTP/1.1 connection to the upstream, used for one exchange
// at a time. Connects when needed (first use, after a failure, after the
// server closed); every exchange has a deadline; a failure closes it.
class http_exchange {
 public:
  http_exchange(boost::asio::any_io_executor executor, http_url url);

  boost::asio::awaitable<http_reply> post(std::string body, std::string_view content_type,
                                          std::optional<std::size_t> json_length,
                                          std::chrono::steady_clock::duration timeout);
  void close();

 private:
  boost::asio::any_io_executor executor_;
  http_url url_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace surge::upstream
