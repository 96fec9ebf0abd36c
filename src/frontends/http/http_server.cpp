#include "frontends/http/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <sys/socket.h>

#include <cerrno>

#include "frontends/accept_backoff.hpp"
#include "frontends/http/request_checks.hpp"
#include "frontends/tls/tls_credentials.hpp"
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

asio::awaitable<bool> client_left(connection_stream& lent) {
  auto& stream = lent.socket();
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
      limiter_(limits.connections),
      accept_strand_(asio::make_strand(io)),
      acceptor_(accept_strand_),
      resume_(accept_strand_),
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

void http_server::start() { asio::co_spawn(accept_strand_, accept_loop(), asio::detached); }

void http_server::stop_accepting() {
  draining_.store(true);
  asio::post(accept_strand_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    resume_.cancel();
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
  connection_limiter::connection_id id{0};
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

namespace {

// Out of file descriptors or kernel memory: the pending connection stays in
// the backlog, so retrying at once would spin.
bool out_of_resources(const boost::system::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space || ec == boost::system::errc::not_enough_memory;
}

// A refused connection learns why in one best-effort write; it is closed
// whatever happens, so the write never waits.
void refuse(tcp::socket& socket) {
  static constexpr std::string_view answer =
      "HTTP/1.1 503 Service Unavailable\r\nServer: surge\r\nContent-Type: application/json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: 37\r\n\r\n"
      "{\"error\":\"too many open connections\"}";
  (void)::send(socket.native_handle(), answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  boost::system::error_code ignored;
  socket.close(ignored);
}

}  // namespace

asio::awaitable<void> http_server::pause_accepting(std::optional<std::chrono::milliseconds> backoff) {
  // Waiting for a close still re-checks now and then, in case the wake-up
  // raced the pause.
  resume_.expires_after(backoff.value_or(std::chrono::seconds(1)));
  co_await resume_.async_wait(as_tuple(use_awaitable));
  paused_.store(false);
}

void http_server::connection_closed(connection_limiter::connection_id id) {
  limiter_.release(id);
  // Evicted connections were released when evicted; their fd still frees
  // now, which an acceptor paused for descriptors waits for too.
  if (paused_.load()) asio::post(accept_strand_, [this] { resume_.cancel(); });
}

asio::awaitable<void> http_server::accept_loop() {
  accept_backoff backoff;
  for (;;) {
    // paused_ is raised before the check so a close between the check and
    // the wait still wakes us.
    paused_.store(true);
    if (!limiter_.can_accept()) {
      co_await pause_accepting(std::nullopt);
      if (!acceptor_.is_open()) co_return;
      continue;
    }
    paused_.store(false);
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_), as_tuple(use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      if (out_of_resources(ec)) {
        paused_.store(true);
        co_await pause_accepting(backoff.next());
        if (!acceptor_.is_open()) co_return;
      }
      continue;  // a reset before accept, or the backoff passed
    }
    backoff.reset();
    boost::system::error_code endpoint_ec;
    const auto peer = socket.remote_endpoint(endpoint_ec);
    if (endpoint_ec) continue;  // gone already
    socket.set_option(tcp::no_delay(true), endpoint_ec);
    auto executor = socket.get_executor();
    auto conn = std::make_shared<connection>(std::move(socket));
    const auto client = peer.address().to_string();
    const auto evict = [weak = std::weak_ptr<connection>(conn)] {
      auto evicted = weak.lock();
      if (!evicted) return;
      asio::post(evicted->socket.get_executor(), [evicted] {
        boost::system::error_code ignored;
        evicted->socket.close(ignored);  // its session's read fails and it ends
      });
    };
    auto admission = limiter_.admit(client, evict);
    // Every connection busy (the accept was pending when the last one became
    // so): hold this one until a connection closes or goes idle.
    while (!admission.id && !admission.client_limit) {
      paused_.store(true);
      admission = limiter_.admit(client, evict);  // a close may have come before paused_ was raised
      if (admission.id || admission.client_limit) break;
      co_await pause_accepting(std::nullopt);
      if (!acceptor_.is_open()) co_return;
      admission = limiter_.admit(client, evict);
    }
    paused_.store(false);
    if (!admission.id) {
      refuse(conn->socket);
      continue;
    }
    conn->id = *admission.id;
    asio::co_spawn(executor, watchdog(conn), asio::detached);
    asio::co_spawn(executor, session(std::move(conn)), asio::detached);
  }
}

asio::awaitable<void> http_server::session(std::shared_ptr<connection> conn) {
  if (!tls_) {
    connection_stream lent(conn->socket);
    co_await serve_requests(*conn, conn->socket, lent);
  } else {
    // The handshake is bounded like a request and the connection counts
    // against the limits meanwhile. A client that speaks plain HTTP fails it
    // at its first bytes and is closed.
    const auto context = tls_->current();
    tls_stream stream(conn->socket, *context);
    conn->expires_after(limits_.tls_handshake_timeout);
    auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, as_tuple(use_awaitable));
    if (!handshake_ec) {
      connection_stream lent(conn->socket, stream);
      co_await serve_requests(*conn, stream, lent);
    }
  }
  boost::system::error_code ignored;
  conn->socket.shutdown(tcp::socket::shutdown_send, ignored);
  conn->closed = true;
  conn->timer.cancel();
  connection_closed(conn->id);
}

template <typename Stream>
asio::awaitable<void> http_server::serve_requests(connection& connection_state, Stream& stream,
                                                  connection_stream& lent) {
  auto* conn = &connection_state;
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit_bytes));
    parser.body_limit(limits_.body_limit_bytes);

    // The idle timeout covers waiting for the first byte; once headers arrive
    // the whole request must come within io_timeout.
    limiter_.mark_idle(conn->id);
    if (paused_.load()) asio::post(accept_strand_, [this] { resume_.cancel(); });  // an idle one can make room
    conn->expires_after(limits_.idle_timeout);
    auto [read_ec, header_bytes] = co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
    if (!read_ec) {
      if (!limiter_.mark_busy(conn->id)) break;  // evicted while its headers arrived
      conn->expires_after(limits_.io_timeout);
      if (auto refusal = refuse_by_header(parser.get())) {
        co_await http::async_write(stream, *refusal, as_tuple(use_awaitable));
        break;
      }
    }
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
      if (expects_continue(parser.get())) {
        // The body limit was checked against Content-Length with the headers.
        static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [continue_ec, sent] = co_await asio::async_write(stream, asio::buffer(go_on), as_tuple(use_awaitable));
        if (continue_ec) break;
      }
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
      auto result = co_await handler_.handle(request, lent);
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
}

}  // namespace surge::http
