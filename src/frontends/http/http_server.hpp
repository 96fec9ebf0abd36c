#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>

#include "core/status.hpp"
#include "frontends/http/connection_limiter.hpp"
#include "frontends/http/connection_stream.hpp"

namespace surge::tls {
class tls_credentials;
}

namespace surge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using request_message = beast::http::request<beast::http::string_body>;
using response_message = beast::http::response<beast::http::string_body>;
using request_header = beast::http::request_header<>;

// Every read has a bound: headers, body and time.
struct server_limits {
  std::size_t header_limit_bytes{16 * 1024};
  std::size_t body_limit_bytes{64 * 1024 * 1024};
  std::chrono::seconds idle_timeout{60};   // a keep-alive connection with no request closes after this
  std::chrono::seconds io_timeout{30};     // reading one request or writing one response
  std::chrono::seconds tls_handshake_timeout{10};  // accept to finished TLS handshake (TLS listeners only)
  connection_limits connections;           // open connections; see connection_limiter
};

// A handler's answer: a response for the server to write; nothing, because
// the client is gone; or `streamed`, when the handler wrote the whole
// response itself (Server-Sent Events) and the connection may be reused when
// `keep_alive` says so.
struct handler_result {
  handler_result(response_message r) : response(std::move(r)) {}
  handler_result(std::optional<response_message> r) : response(std::move(r)) {}
  handler_result(std::nullopt_t) {}
  static handler_result streamed_response(bool keep_alive) {
    handler_result result(std::nullopt);
    result.streamed = true;
    result.keep_alive = keep_alive;
    return result;
  }

  std::optional<response_message> response;
  bool streamed{false};
  bool keep_alive{false};
};

// What a handler decides from a request's headers alone, before its body is
// read: a `refusal` is written at once and the connection closed, so an
// unauthorised or oversized body is never read; `body_limit_bytes` (when
// under the server's) bounds this request's body, and `over_body_limit` is
// the answer when it is exceeded (the server's own 413 when unset).
struct header_verdict {
  std::optional<response_message> refusal;
  std::optional<std::size_t> body_limit_bytes;
  std::optional<response_message> over_body_limit;
};

// What a server does with one request. `stream` is lent for the call so a
// handler can watch for its client leaving or stream its response.
class request_handler {
 public:
  virtual ~request_handler() = default;
  virtual header_verdict screen(const request_header&) { return {}; }
  virtual asio::awaitable<handler_result> handle(request_message& request, connection_stream& stream) = 0;
};

// HTTP/1.1 with keep-alive: one coroutine per connection, each on its own
// strand of the shared io_context. Tracks requests in flight so shutdown can
// stop accepting, let them finish, and only then stop the I/O threads.
// Open connections are bounded (server_limits::connections): at the limit the
// longest-idle connection makes room; when none is idle, or file descriptors
// run out, the acceptor pauses until a connection closes or a backoff passes.
class http_server {
 public:
  http_server(asio::io_context& io, request_handler& handler, server_limits limits);

  // Binds and listens; port 0 picks a free one. Returns the bound port.
  std::uint16_t listen(const std::string& host, std::uint16_t port);
  // Serves HTTPS: each new connection handshakes with `credentials.current()`.
  // Call before start(); `credentials` outlive the server.
  void use_tls(const tls::tls_credentials& credentials) { tls_ = &credentials; }
  void start();

  // Stops accepting; new requests on open connections get 503 and a close.
  void stop_accepting();

  const connection_limiter& connections() const { return limiter_; }
  // Completes when no request is in flight (after stop_accepting()).
  asio::awaitable<void> wait_drained();

 private:
  asio::awaitable<void> accept_loop();
  // Waits for a connection to close, or for `backoff` when given.
  asio::awaitable<void> pause_accepting(std::optional<std::chrono::milliseconds> backoff);
  void connection_closed(connection_limiter::connection_id id);
  struct connection;
  asio::awaitable<void> session(std::shared_ptr<connection> conn);
  // The requests of one connection, over its plain socket or its TLS stream.
  template <typename Stream>
  asio::awaitable<void> serve_requests(connection& conn, Stream& stream, connection_stream& lent);
  static asio::awaitable<void> watchdog(std::shared_ptr<connection> conn);
  void leave();

  asio::io_context& io_;
  request_handler& handler_;
  server_limits limits_;
  const tls::tls_credentials* tls_{nullptr};  // null: plain HTTP
  connection_limiter limiter_;
  asio::strand<asio::io_context::executor_type> accept_strand_;
  asio::ip::tcp::acceptor acceptor_;   // on accept_strand_
  asio::steady_timer resume_;          // on accept_strand_; cancelled to resume a paused acceptor
  std::atomic<bool> paused_{false};
  std::atomic<bool> draining_{false};
  std::atomic<std::int64_t> inflight_{0};
  asio::strand<asio::io_context::executor_type> gate_strand_;
  asio::steady_timer drained_;  // on gate_strand_; cancelled when inflight_ reaches 0 while draining
};

// Small helpers shared by handlers.
response_message json_response(beast::http::status status, std::string body, unsigned version, bool keep_alive);
response_message error_response(beast::http::status status, std::string_view message, unsigned version,
                                bool keep_alive);
// The HTTP status of each error code (docs/error-policy.md).
beast::http::status status_for(error_code code);
// A failure's answer: its code's status, `json_body` (the protocol's error
// object), and Retry-After when the failure carries one.
response_message failure_response(const error& failure, std::string json_body, unsigned version);
// True when the peer closed its end; false when it sent more bytes (a
// pipelined request, or a TLS alert), which only means we cannot watch any
// longer. It watches the socket under TLS too.
asio::awaitable<bool> client_left(connection_stream& stream);

}  // namespace surge::http
