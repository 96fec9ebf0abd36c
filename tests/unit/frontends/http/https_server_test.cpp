// The HTTP server over TLS on a real loopback listener: a TLS client is
// served, a client that never handshakes is closed at the handshake timeout,
// and one that speaks plain HTTP is closed at its first bytes. Each step
// waits on a socket event.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <thread>

#include "frontends/http/http_server.hpp"
#include "frontends/tls/tls_credentials.hpp"
#include "support/self_signed.hpp"
#include "support/temp_dir.hpp"

namespace surge::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class ok_handler final : public request_handler {
 public:
  asio::awaitable<handler_result> handle(request_message& request, connection_stream& stream) override {
    co_return json_response(beast::http::status::ok, stream.encrypted() ? R"({"tls":true})" : R"({"tls":false})",
                            request.version(), true);
  }
};

class https_server : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto pem = surge::testing::self_signed("localhost");
    surge::testing::write_file(dir_.path() / "cert.pem", pem.certificate);
    surge::testing::write_file(dir_.path() / "key.pem", pem.key);
    auto loaded = tls::tls_credentials::load(
        {(dir_.path() / "cert.pem").string(), (dir_.path() / "key.pem").string(), {}}, "http/1.1");
    ASSERT_TRUE(std::holds_alternative<std::unique_ptr<tls::tls_credentials>>(loaded));
    credentials_ = std::get<std::unique_ptr<tls::tls_credentials>>(std::move(loaded));
    server_limits limits;
    limits.tls_handshake_timeout = std::chrono::seconds(1);
    server_ = std::make_unique<http_server>(io_, handler_, limits);
    server_->use_tls(*credentials_);
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
  static bool closed_by_server(tcp::socket& socket) {
    char buffer[512];
    boost::system::error_code ec;
    while (!ec) socket.read_some(asio::buffer(buffer), ec);  // whatever alert comes first, then the close
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  surge::testing::temp_dir dir_{"surge_https"};
  std::unique_ptr<tls::tls_credentials> credentials_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  asio::io_context client_io_;
  ok_handler handler_;
  std::unique_ptr<http_server> server_;
  std::uint16_t port_{0};
  std::thread thread_;
};

TEST_F(https_server, a_tls_client_is_served_through_the_encrypted_stream) {
  asio::ssl::context client_context(asio::ssl::context::tls_client);  // self-signed: no verification here
  asio::ssl::stream<tcp::socket> client(connect(), client_context);
  client.handshake(asio::ssl::stream_base::client);
  for (int i = 0; i < 2; ++i) {  // keep-alive over the same TLS session
    asio::write(client, asio::buffer(std::string("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")));
    asio::streambuf buffer;
    asio::read_until(client, buffer, "{\"tls\":true}");
    const std::string text(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
    EXPECT_EQ(text.rfind("HTTP/1.1 200 OK", 0), 0u) << text;
  }
}

TEST_F(https_server, a_client_that_never_handshakes_is_closed_at_the_timeout) {
  auto silent = connect();
  EXPECT_TRUE(closed_by_server(silent));
}

TEST_F(https_server, plain_http_on_the_tls_port_is_closed_unanswered) {
  auto plain = connect();
  asio::write(plain, asio::buffer(std::string("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")));
  asio::streambuf buffer;
  boost::system::error_code ec;
  asio::read_until(plain, buffer, "\r\n\r\n", ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  const std::string text(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  EXPECT_EQ(text.find("HTTP/1.1"), std::string::npos);
}

}  // namespace
}  // namespace surge::http
