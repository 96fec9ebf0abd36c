#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace grpc {
class Server;
}

namespace surge::tls {
class tls_credentials;
}

namespace surge::grpc_frontend {

// Accepts the gRPC port's connections on the I/O pool and hands each socket
// to gRPC (AddInsecureChannelFromFd). gRPC 1.51's own acceptor stops for good
// the first time accept() fails with EMFILE; this one pauses (backoff, 10 ms
// doubling to 1 s) and resumes by itself, so running out of descriptors
// delays gRPC clients instead of cutting them off until a restart. With TLS
// each connection is handshaken here and relayed to gRPC in plaintext
// (tls_relay.hpp says why).
class grpc_acceptor {
 public:
  explicit grpc_acceptor(boost::asio::io_context& io);

  // Binds and listens; port 0 picks a free one. Returns the bound port;
  // throws std::runtime_error when the address cannot be bound.
  std::uint16_t listen(const std::string& host, std::uint16_t port);
  // Terminates TLS with `credentials.current()` for each new connection,
  // whose handshake must finish within `handshake_timeout`. Call before
  // start(); `credentials` outlive the acceptor.
  void use_tls(const tls::tls_credentials& credentials, std::chrono::milliseconds handshake_timeout) {
    tls_ = &credentials;
    handshake_timeout_ = handshake_timeout;
  }
  // Starts handing connections to `server`, which must be started and
  // outlive stop().
  void start(grpc::Server& server);
  // Stops accepting; connections already handed over stay gRPC's. Safe from
  // any thread; once it returns no connection is handed to the server.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();
  // Gives `fd` to the server; false once stopped.
  bool hand_over(int fd);

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;  // on strand_
  boost::asio::steady_timer backoff_timer_;  // on strand_
  const tls::tls_credentials* tls_{nullptr};  // null: plaintext connections go to gRPC as they are
  std::chrono::milliseconds handshake_timeout_{std::chrono::seconds(10)};
  std::mutex mutex_;
  grpc::Server* server_{nullptr};  // guarded by mutex_; null once stopped
};

}  // namespace surge::grpc_frontend
