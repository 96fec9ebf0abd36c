// The acceptor's policy on a real loopback listener: evict the longest-idle
// connection at the limit, and pause (not refuse) while every connection is
// busy, resuming when one closes. Each step waits on a socket event.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/as_tuple.hpp>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "frontends/http/http_server.hpp"

namespace surge::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers every request at once, except "/hold", which waits until the test
// releases it.
class holding_handler final : public request_handler {
 public:
  asio::awaitable<handler_result> handle(request_message& request, connection_stream&) override {
    if (request.target() == "/hold") {
      asio::steady_timer timer(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
      {
        std::lock_guard lock(mutex_);
        held_ = &timer;
      }
      entered_.set_value();
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return json_response(beast::http::status::ok, R"({"ok":true})", request.version(), true);
  }

  void wait_entered() { entered_.get_future().wait(); }
  void release(asio::io_context& io) {
    asio::post(io, [this] {
      std::lock_guard lock(mutex_);
      held_->cancel();
    });
  }

 private:
  std::mutex mutex_;
  asio::steady_timer* held_{nullptr};  // guarded by mutex_
  std::promise<void> entered_;
};

class http_server_limits : public ::testing::Test {
 protected:
  void start(connection_limits connections) {
    server_limits limits;
    limits.connections = connections;
    server_ = std::make_unique<http_server>(io_, handler_, limits);
    port_ = server_->listen("127.0.0.1", 0);
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    work_.reset();
    if (server_) server_->stop_accepting();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect({asio::ip::make_address("127.0.0.1"), port_});
    return socket;
  }
  static void send(tcp::socket& socket, const std::string& target) {
    asio::write(socket, asio::buffer("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
  // Reads one response's head; empty when the server closed instead.
  static std::string read_head(tcp::socket& socket) {
    asio::streambuf buffer;
    boost::system::error_code ec;
    asio::read_until(socket, buffer, "\r\n\r\n", ec);
    if (ec) return {};
    return {asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data())};
  }
  static bool closed_by_server(tcp::socket& socket) {
    char byte = 0;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  asio::io_context client_io_;
  holding_handler handler_;
  std::unique_ptr<http_server> server_;
  std::uint16_t port_{0};
  std::thread thread_;
};

TEST_F(http_server_limits, at_the_limit_the_longest_idle_connection_makes_room) {
  start({.max_connections = 2, .max_connections_per_client = 0});
  auto oldest = connect();
  auto younger = connect();
  auto probe = connect();  // a third: the oldest idle one goes
  EXPECT_TRUE(closed_by_server(oldest));
  send(probe, "/v2/health/live");
  EXPECT_NE(read_head(probe).find("HTTP/1.1 200"), std::string::npos);
  send(younger, "/v2/health/live");
  EXPECT_NE(read_head(younger).find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(server_->connections().evictions(), 1u);
}

TEST_F(http_server_limits, while_every_connection_is_busy_the_acceptor_waits_and_resumes_on_a_close) {
  start({.max_connections = 1, .max_connections_per_client = 0});
  auto busy = connect();
  send(busy, "/hold");
  handler_.wait_entered();
  // Queued in the backlog, not accepted and refused.
  auto waiting = connect();
  send(waiting, "/v2/health/live");
  handler_.release(io_);
  // Once answered, `busy` is idle: the acceptor may take `waiting` by
  // evicting it, or when it closes, whichever comes first.
  EXPECT_NE(read_head(busy).find("HTTP/1.1 200"), std::string::npos);
  busy.close();
  EXPECT_NE(read_head(waiting).find("HTTP/1.1 200"), std::string::npos);  // held, not refused with 503
}

TEST_F(http_server_limits, a_client_over_its_own_limit_with_nothing_idle_is_answered_503) {
  start({.max_connections = 10, .max_connections_per_client = 1});
  auto busy = connect();
  send(busy, "/hold");
  handler_.wait_entered();
  auto refused = connect();
  // The whole answer, up to the server's close.
  std::string answer;
  boost::system::error_code ec;
  asio::read(refused, asio::dynamic_buffer(answer), ec);
  EXPECT_EQ(ec, asio::error::eof);
  const auto head_end = answer.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << answer;
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 503")) << answer;
  const auto body = answer.substr(head_end + 4);
  EXPECT_EQ(body, R"({"error":"too many open connections"})");
  EXPECT_NE(answer.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos) << answer;
  EXPECT_EQ(server_->connections().refusals(), 1u);
  handler_.release(io_);
  EXPECT_NE(read_head(busy).find("HTTP/1.1 200"), std::string::npos);
}

}  // namespace
}  // namespace surge::http
