#include "frontends/http/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/socket.h>

#include <cerrno>

#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace surge::http {

namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

response_message json_response(http::status status, std::string body, unsigned version, bool keep_alive) {
  response_message response{status, version};
  response.set(http::field::server, "surge");
  response.set(http::field::content_type, "application/json");
  response.keep_alive(keep_alive);
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

response_message error_response(http::status status, std::string_view message, unsigned version, bool keep_alive) {
  return json_response(status, wire::encode_error(message), version, keep_alive);
}

http::status status_for(error_code code) {
  switch (code) {
    case error_code::invalid_argument:
      return http::status::bad_request;
    case error_code::not_found:
      return http::status::not_found;
    case error_code::unavailable:
      return http::status::too_many_requests;
    case error_code::not_ready:
      return http::status::service_unavailable;
    case error_code::deadline_exceeded:
      return http::status::gateway_timeout;
    case error_code::cancelled:
      return static_cast<http::status>(499);
    case error_code::internal:
      break;
  }
  return http::status::internal_server_error;
}

response_message failure_response(const error& failure, std::string json_body, unsigned version) {
  auto response = json_response(status_for(failure.code), std::move(json_body), version, true);
  if (failure.retry_after) response.set(http::field::retry_after, std::to_string(failure.retry_after->count()));
  return response;
}

asio::awaitable<bool> client_left(connection_socket& stream) {
  for (;;) {
    auto [ec] = co_await stream.async_wait(tcp::socket::wait_read, as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted) co_return false;
    if (ec) co_return true;
    // Readiness can be stale (an edge reported for bytes an earlier read
    // already took), so peek: 0 is the peer's FIN, EAGAIN means keep waiting.
    char byte = 0;
    const auto peeked = ::recv(stream.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (peeked > 0) co_return false;
    if (peeked == 0) co_return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return true;
  }
}

http_server::http_server(asio::io_context& io, request_handler& handler, server_limits limits)
    : io_(io),
      handler_(handler),
      limits_(limits),
      acceptor_(io),
      gate_strand_(asio::make_strand(io)),
      drained_(gate_strand_, asio::steady_timer::time_point::max()) {}

std::uint16_t http_server::listen(const std::string& host, std::uint16_t port) {
  const tcp::endpoint endpoint(asio::ip::make_address(host), port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  return acceptor_.local_endpoint().port();
}

void http_server::start() { asio::co_spawn(io_, accept_loop(), asio::detached); }

void http_server::stop_accepting() {
  draining_.store(true);
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
}

asio::awaitable<void> http_server::wait_drained() {
  co_await asio::post(gate_strand_, use_awaitable);
  if (inflight_.load() == 0) co_return;
  co_await drained_.async_wait(as_tuple(use_awaitable));
}

void http_server::leave() {
  if (inflight_.fetch_sub(1) == 1 && draining_.load()) {
    asio::post(gate_strand_, [this] {
      if (inflight_.load() == 0) drained_.cancel();
    });
  }
}

// One connection's socket and its deadline. Moving the deadline is a plain
// store: the watchdog's timer is armed once per period, not once per read and
// write as beast::tcp_stream would arm it, and on waking it re-arms for the
// current deadline or closes the socket if that has passed.
struct http_server::connection {
  explicit connection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

  void expires_after(std::chrono::steady_clock::duration d) {
    deadline = std::chrono::steady_clock::now() + d;
    if (deadline < armed_until) timer.cancel();  // rare: the watchdog re-arms earlier
  }
  void expires_never() { deadline = std::chrono::steady_clock::time_point::max(); }

  tcp::socket socket;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline{std::chrono::steady_clock::time_point::max()};
  std::chrono::steady_clock::time_point armed_until{std::chrono::steady_clock::time_point::max()};
  bool closed{false};
};

asio::awaitable<void> http_server::watchdog(std::shared_ptr<connection> conn) {
  while (!conn->closed) {
    const auto deadline = conn->deadline;
    if (deadline <= std::chrono::steady_clock::now()) {
      boost::system::error_code ignored;
      conn->socket.close(ignored);  // the session's pending operation fails and it ends
      co_return;
    }
    conn->armed_until = deadline;
    conn->timer.expires_at(deadline);
    co_await conn->timer.async_wait(as_tuple(use_awaitable));
  }
}

asio::awaitable<void> http_server::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_), as_tuple(use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      continue;  // a failed accept (EMFILE, a reset) must not stop the server
    }
    socket.set_option(tcp::no_delay(true));
    auto executor = socket.get_executor();
    auto conn = std::make_shared<connection>(std::move(socket));
    asio::co_spawn(executor, watchdog(conn), asio::detached);
    asio::co_spawn(executor, session(std::move(conn)), asio::detached);
  }
}

asio::awaitable<void> http_server::session(std::shared_ptr<connection> conn) {
  auto& stream = conn->socket;
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit_bytes));
    parser.body_limit(limits_.body_limit_bytes);

    // The idle timeout covers waiting for the first byte; once headers arrive
    // the whole request must come within io_timeout.
    conn->expires_after(limits_.idle_timeout);
    auto [read_ec, header_bytes] = co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
    std::size_t body_limit = limits_.body_limit_bytes;
    std::optional<response_message> over_body_limit;
    if (!read_ec && !draining_.load()) {
      auto verdict = handler_.screen(parser.get());
      if (verdict.refusal) {
        verdict.refusal->keep_alive(false);
        conn->expires_after(limits_.io_timeout);
        co_await http::async_write(stream, *verdict.refusal, as_tuple(use_awaitable));
        break;
      }
      if (verdict.body_limit_bytes && *verdict.body_limit_bytes < body_limit) {
        body_limit = *verdict.body_limit_bytes;
        parser.body_limit(body_limit);  // a chunked body is counted against it as it arrives
        over_body_limit = std::move(verdict.over_body_limit);
      }
    }
    if (!read_ec && !parser.is_done()) {
      conn->expires_after(limits_.io_timeout);
      std::tie(read_ec, header_bytes) = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
    }
    if (read_ec) {
      std::optional<response_message> refusal;
      if (read_ec == http::error::body_limit && over_body_limit) {
        refusal = std::move(over_body_limit);
        refusal->keep_alive(false);
      } else if (read_ec == http::error::body_limit) {
        refusal = error_response(http::status::payload_too_large,
                                 "request body exceeds " + std::to_string(body_limit) + " bytes", 11, false);
      } else if (read_ec == http::error::header_limit) {
        refusal = error_response(http::status::request_header_fields_too_large,
                                 "request headers exceed " + std::to_string(limits_.header_limit_bytes) + " bytes",
                                 11, false);
      } else if (read_ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 read_ec != http::error::end_of_stream && read_ec != http::error::partial_message) {
        refusal = error_response(http::status::bad_request, "malformed HTTP request: " + read_ec.message(), 11, false);
      }
      if (refusal) {
        conn->expires_after(limits_.io_timeout);
        co_await http::async_write(stream, *refusal, as_tuple(use_awaitable));
      }
      break;
    }

    auto request = parser.release();
    std::optional<response_message> response;
    inflight_.fetch_add(1);
    if (draining_.load()) {
      response = error_response(http::status::service_unavailable, "server is shutting down", request.version(), false);
    } else {
      conn->expires_never();  // a queued request may wait as long as its own timeout allows
      auto result = co_await handler_.handle(request, stream);
      if (result.streamed) {
        leave();
        if (!result.keep_alive || !request.keep_alive() || draining_.load()) break;
        continue;
      }
      response = std::move(result.response);
    }
    if (!response) {  // the client left while its request ran
      leave();
      break;
    }
    response->keep_alive(response->keep_alive() && request.keep_alive() && !draining_.load());
    const bool keep_alive = response->keep_alive();
    conn->expires_after(limits_.io_timeout);
    auto [write_ec, written] = co_await http::async_write(stream, *response, as_tuple(use_awaitable));
    leave();
    if (write_ec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.shutdown(tcp::socket::shutdown_send, ignored);
  conn->closed = true;
  conn->timer.cancel();
}

}  // namespace surge::http
