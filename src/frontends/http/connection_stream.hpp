#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cstddef>

namespace surge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

// A TLS connection: the session's socket, encrypted. The socket stays the
// connection's own (its watchdog closes it), so the TLS layer refers to it.
using tls_stream = beast::ssl_stream<asio::ip::tcp::socket&>;

// The connection a handler is lent: its socket (to watch for the client
// leaving) and a stream to write a response of its own (Server-Sent Events),
// through TLS when the connection has it. The session itself reads and writes
// the concrete stream; only a handler's own writes take the branch here.
class connection_stream {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;

  explicit connection_stream(asio::ip::tcp::socket& socket) : socket_(socket) {}
  connection_stream(asio::ip::tcp::socket& socket, tls_stream& tls) : socket_(socket), tls_(&tls) {}

  executor_type get_executor() { return socket_.get_executor(); }
  asio::ip::tcp::socket& socket() { return socket_; }
  bool encrypted() const { return tls_ != nullptr; }

  template <typename ConstBufferSequence, typename WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& data) {
          if (tls_) {
            tls_->async_write_some(data, std::move(handler));
          } else {
            socket_.async_write_some(data, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename MutableBufferSequence, typename ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& data) {
          if (tls_) {
            tls_->async_read_some(data, std::move(handler));
          } else {
            socket_.async_read_some(data, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  asio::ip::tcp::socket& socket_;
  tls_stream* tls_{nullptr};
};

}  // namespace surge::http
