#include "frontends/grpc/grpc_acceptor.hpp"

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "frontends/accept_backoff.hpp"
#include "frontends/grpc/tls_relay.hpp"
#include "frontends/tls/tls_credentials.hpp"

namespace surge::grpc_frontend {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

grpc_acceptor::grpc_acceptor(asio::io_context& io)
    : io_(io), strand_(asio::make_strand(io)), acceptor_(strand_), backoff_timer_(strand_) {}

std::uint16_t grpc_acceptor::listen(const std::string& host, std::uint16_t port) {
  try {
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint().port();
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot bind gRPC to " + host + ":" + std::to_string(port) + ": " + e.what());
  }
}

void grpc_acceptor::start(grpc::Server& server) {
  {
    std::lock_guard lock(mutex_);
    server_ = &server;
  }
  asio::co_spawn(strand_, accept_loop(), asio::detached);
}

void grpc_acceptor::stop() {
  {
    std::lock_guard lock(mutex_);
    server_ = nullptr;
  }
  asio::post(strand_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    backoff_timer_.cancel();
  });
}

asio::awaitable<void> grpc_acceptor::accept_loop() {
  using asio::as_tuple;
  using asio::use_awaitable;
  accept_backoff backoff;
  for (;;) {
    // A TLS connection's relay runs on a strand of its own.
    const auto executor = tls_ ? asio::any_io_executor(asio::make_strand(io_)) : asio::any_io_executor(io_.get_executor());
    auto [ec, socket] = co_await acceptor_.async_accept(executor, as_tuple(use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      const bool out_of_resources = ec == boost::system::errc::too_many_files_open ||
                                    ec == boost::system::errc::too_many_files_open_in_system ||
                                    ec == boost::system::errc::no_buffer_space ||
                                    ec == boost::system::errc::not_enough_memory;
      if (out_of_resources) {
        // The connection stays in the backlog: retrying at once would spin.
        backoff_timer_.expires_after(backoff.next());
        co_await backoff_timer_.async_wait(as_tuple(use_awaitable));
        if (!acceptor_.is_open()) co_return;
      }
      continue;
    }
    backoff.reset();
    boost::system::error_code option_ec;
    socket.set_option(tcp::no_delay(true), option_ec);
    if (tls_) {
      asio::co_spawn(executor,
                     relay_tls(std::move(socket), tls_->current(), handshake_timeout_,
                               [this](int fd) { return hand_over(fd); }),
                     asio::detached);
      continue;
    }
    socket.non_blocking(true, option_ec);
    if (option_ec) continue;
    // From here the descriptor is gRPC's, which closes it when the
    // connection ends.
    const int fd = socket.release(option_ec);
    if (option_ec) continue;
    if (!hand_over(fd)) ::close(fd);
  }
}

bool grpc_acceptor::hand_over(int fd) {
  std::lock_guard lock(mutex_);
  if (!server_) return false;
  grpc::AddInsecureChannelFromFd(server_, fd);
  return true;
}

}  // namespace surge::grpc_frontend
