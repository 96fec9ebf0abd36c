#pragma once

// The load generator's HTTP/1.1 client: one keep-alive connection sending
// requests serialized once in advance, so the per-request cost on the client
// side is one write and one parse. Every exchange is bounded in time and size.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load_target.hpp"

namespace surge::bench {

struct http_answer {
  failure_kind failure{failure_kind::none};
  std::string detail;  // what the OS or the parser said, when failure is set
  unsigned status{0};
  std::string body;
  std::optional<std::size_t> json_length;  // Inference-Header-Content-Length
};

struct http_limits {
  std::chrono::milliseconds timeout{30000};      // connect (when needed), write and read of one exchange together
  std::size_t body_limit_bytes{1024 * 1024 * 1024};  // a larger response is a protocol_error
  std::size_t header_limit_bytes{64 * 1024};
};

// A complete HTTP/1.1 request, ready to write as it is.
std::string serialize_http_request(std::string_view method, std::string_view host_header, std::string_view target,
                                   std::string_view body, std::string_view content_type,
                                   std::optional<std::size_t> json_length);

// "host:port" as the Host header wants it (IPv6 in brackets).
std::string host_header(std::string_view host, std::string_view port);

using endpoint_list = std::vector<boost::asio::ip::tcp::endpoint>;

class http_connection {
 public:
  http_connection(boost::asio::any_io_executor executor, std::shared_ptr<const endpoint_list> endpoints,
                  http_limits limits);

  // Connects first when not connected (after a failure, or when the server
  // asked to close). Never throws; a failure closes the connection.
  boost::asio::awaitable<http_answer> exchange(std::string_view request);

  // For a streamed answer (Server-Sent Events): a 200's body is handed to
  // `on_body` piece by piece as it arrives, transfer encoding removed, and
  // answer.body stays empty; any other status's body is collected into
  // answer.body as exchange() does. The limits apply to the whole exchange.
  using body_callback = std::function<void(std::string_view piece)>;
  boost::asio::awaitable<http_answer> exchange_streaming(std::string_view request, const body_callback& on_body);

  void close();

 private:
  // Connects when needed and writes the request; nullopt when that worked.
  boost::asio::awaitable<std::optional<http_answer>> send(std::string_view request);
  http_answer fail(const boost::system::error_code& ec, bool connecting);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<const endpoint_list> endpoints_;
  http_limits limits_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace surge::bench
