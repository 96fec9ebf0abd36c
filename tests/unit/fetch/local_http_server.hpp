#pragma once

// A tiny HTTP/1.1 server on 127.0.0.1, on its own thread, for the fetch
// client's tests: each path answers a canned_reply, and the server counts
// connections (and how many were open at once) and chunked bytes it wrote.
#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fetch/test_certificate.hpp"

namespace surge::fetch::testing {

struct canned_reply {
  unsigned status{200};
  std::string body;
  std::string content_type{"application/octet-stream"};
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};             // before the answer
  std::optional<std::uint64_t> declared_length;   // send this Content-Length and no body
  std::uint64_t chunked_bytes{0};                 // send a chunked body of this many bytes
};

class local_http_server {
 public:
  using route = std::function<canned_reply(const std::string& target)>;

  // With a certificate, the server speaks https only.
  explicit local_http_server(route answer, const test_certificate* certificate = nullptr)
      : answer_(std::move(answer)), acceptor_(io_) {
    if (certificate) {
      tls_.emplace(boost::asio::ssl::context::tls_server);
      tls_->use_certificate_chain(boost::asio::buffer(certificate->certificate_pem));
      tls_->use_private_key(boost::asio::buffer(certificate->private_key_pem), boost::asio::ssl::context::pem);
    }
    namespace ip = boost::asio::ip;
    const ip::tcp::endpoint endpoint(ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~local_http_server() {
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& target) const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + target;
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  int connections() const { return connections_.load(); }
  int most_at_once() const { return most_at_once_.load(); }
  std::uint64_t chunked_bytes_written() const { return chunked_written_.load(); }

 private:
  using tcp = boost::asio::ip::tcp;

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      ++connections_;
      const int open = ++open_;
      int seen = most_at_once_.load();
      while (open > seen && !most_at_once_.compare_exchange_weak(seen, open)) {
      }
      boost::asio::co_spawn(io_, tls_ ? serve_tls(std::move(socket)) : serve_plain(std::move(socket)),
                            boost::asio::detached);
    }
  }

  // Counted open from accept until just before the last write: within the
  // interval the client holds its admission, so most_at_once never
  // over-counts the client's concurrency.
  boost::asio::awaitable<void> serve_plain(tcp::socket socket) { co_await serve(socket); }

  boost::asio::awaitable<void> serve_tls(tcp::socket socket) {
    boost::asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    auto [ec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server,
                                                boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) {
      --open_;
      co_return;
    }
    co_await serve(stream);
  }

  template <class Stream>
  boost::asio::awaitable<void> serve(Stream& socket) {
    namespace http = boost::beast::http;
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;
    bool counted = true;
    const auto leave = [&] {
      if (counted) --open_;
      counted = false;
    };
    boost::beast::flat_buffer buffer;
    http::request<http::empty_body> request;
    auto [read_ec, read] = co_await http::async_read(socket, buffer, request, as_tuple(use_awaitable));
    if (read_ec) {
      leave();
      co_return;
    }
    const auto reply = answer_(std::string(request.target()));
    if (reply.delay.count() > 0) {
      boost::asio::steady_timer timer(io_, reply.delay);
      co_await timer.async_wait(as_tuple(use_awaitable));
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Canned\r\nConnection: close\r\n";
    head += "Content-Type: " + reply.content_type + "\r\n";
    for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
    if (reply.chunked_bytes > 0) {
      head += "Transfer-Encoding: chunked\r\n\r\n";
      leave();
      auto [ec, n] = co_await boost::asio::async_write(socket, boost::asio::buffer(head), as_tuple(use_awaitable));
      const std::string chunk = "4000\r\n" + std::string(0x4000, 'x') + "\r\n";
      for (std::uint64_t sent = 0; !ec && sent < reply.chunked_bytes; sent += 0x4000) {
        std::tie(ec, n) =
            co_await boost::asio::async_write(socket, boost::asio::buffer(chunk), as_tuple(use_awaitable));
        if (!ec) chunked_written_ += 0x4000;
      }
      const std::string last = "0\r\n\r\n";
      if (!ec) co_await boost::asio::async_write(socket, boost::asio::buffer(last), as_tuple(use_awaitable));
      co_return;
    }
    if (reply.declared_length) {
      head += "Content-Length: " + std::to_string(*reply.declared_length) + "\r\n\r\n";
      leave();
      co_await boost::asio::async_write(socket, boost::asio::buffer(head), as_tuple(use_awaitable));
      // Hold the connection until the client gives up on it.
      char sink[256];
      for (;;) {
        auto [ec, n] = co_await socket.async_read_some(boost::asio::buffer(sink), as_tuple(use_awaitable));
        if (ec) co_return;
      }
    }
    head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body;
    leave();
    co_await boost::asio::async_write(socket, boost::asio::buffer(head), as_tuple(use_awaitable));
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(socket).shutdown(tcp::socket::shutdown_send, ignored);
  }

  route answer_;
  std::optional<boost::asio::ssl::context> tls_;
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_{0};
  std::thread thread_;
  std::atomic<int> connections_{0};
  std::atomic<int> open_{0};
  std::atomic<int> most_at_once_{0};
  std::atomic<std::uint64_t> chunked_written_{0};
};

}  // namespace surge::fetch::testing
