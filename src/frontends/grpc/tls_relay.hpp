#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace surge::grpc_frontend {

// Takes a descriptor for gRPC to serve as a plaintext connection; false when
// gRPC no longer takes connections (the caller then closes it).
using hand_over_fd = std::function<bool(int fd)>;

// TLS for one gRPC connection, terminated here because gRPC 1.51 serves a
// handed-over descriptor only with insecure credentials
// (grpc_server_add_channel_from_fd refuses any other). The handshake must
// finish within `handshake_timeout`; then one end of a socketpair goes to
// gRPC and the bytes are copied both ways between it and the TLS stream
// until either side closes, which closes both. Runs on `socket`'s executor,
// which must be a strand. `context` is the one current when the connection
// was accepted; the connection keeps it.
boost::asio::awaitable<void> relay_tls(boost::asio::ip::tcp::socket socket,
                                       std::shared_ptr<boost::asio::ssl::context> context,
                                       std::chrono::milliseconds handshake_timeout, hand_over_fd hand_over);

}  // namespace surge::grpc_frontend
