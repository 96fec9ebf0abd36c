#include "frontends/grpc/tls_relay.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace surge::grpc_frontend {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

// One TLS connection and the plaintext end of its socketpair. Both copy
// directions and the handshake timer run on the connection's strand.
struct relay {
  relay(tcp::socket socket, std::shared_ptr<asio::ssl::context> ssl_context)
      : context(std::move(ssl_context)),
        tls(std::move(socket), *context),
        plain(tls.get_executor()),
        timer(tls.get_executor()) {}

  // Either side closing ends the connection: the other copy's pending
  // operation fails and it stops.
  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    tls.lowest_layer().close(ignored);
    plain.close(ignored);
    timer.cancel();
  }

  std::shared_ptr<asio::ssl::context> context;
  asio::ssl::stream<tcp::socket> tls;
  asio::local::stream_protocol::socket plain;
  asio::steady_timer timer;
  bool handshaken{false};
  bool closed{false};
};

// Up to one TLS record's plaintext (16 KiB) per read; the gRPC side reads
// more at once, as HTTP/2 frames batch.
constexpr std::size_t client_chunk_bytes = 16 * 1024;
constexpr std::size_t grpc_chunk_bytes = 64 * 1024;

asio::awaitable<void> client_to_grpc(std::shared_ptr<relay> state) {
  std::array<char, client_chunk_bytes> chunk;
  for (;;) {
    auto [read_ec, n] = co_await state->tls.async_read_some(asio::buffer(chunk), as_tuple(use_awaitable));
    if (read_ec) break;
    auto [write_ec, written] =
        co_await asio::async_write(state->plain, asio::buffer(chunk.data(), n), as_tuple(use_awaitable));
    if (write_ec) break;
  }
  state->close();
}

asio::awaitable<void> grpc_to_client(std::shared_ptr<relay> state) {
  std::vector<char> chunk(grpc_chunk_bytes);
  for (;;) {
    auto [read_ec, n] = co_await state->plain.async_read_some(asio::buffer(chunk), as_tuple(use_awaitable));
    if (read_ec) break;
    auto [write_ec, written] =
        co_await asio::async_write(state->tls, asio::buffer(chunk.data(), n), as_tuple(use_awaitable));
    if (write_ec) break;
  }
  state->close();
}

}  // namespace

asio::awaitable<void> relay_tls(tcp::socket socket, std::shared_ptr<asio::ssl::context> context,
                                std::chrono::milliseconds handshake_timeout, hand_over_fd hand_over) {
  auto state = std::make_shared<relay>(std::move(socket), std::move(context));
  state->timer.expires_after(handshake_timeout);
  state->timer.async_wait([state](boost::system::error_code ec) {
    if (!ec && !state->handshaken) state->close();  // its handshake fails and the relay ends
  });
  auto [handshake_ec] = co_await state->tls.async_handshake(asio::ssl::stream_base::server, as_tuple(use_awaitable));
  if (handshake_ec || state->closed) {
    state->close();
    co_return;
  }
  state->handshaken = true;
  state->timer.cancel();

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    state->close();  // out of descriptors: this client is cut off, the others go on
    co_return;
  }
  boost::system::error_code assign_ec;
  state->plain.assign(asio::local::stream_protocol(), fds[0], assign_ec);
  if (assign_ec) {
    ::close(fds[0]);
    ::close(fds[1]);
    state->close();
    co_return;
  }
  if (!hand_over(fds[1])) {
    ::close(fds[1]);
    state->close();
    co_return;
  }
  const auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, grpc_to_client(state), asio::detached);
  co_await client_to_grpc(std::move(state));
}

}  // namespace surge::grpc_frontend
