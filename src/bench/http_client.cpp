#include "bench/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>

namespace surge::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

failure_kind classify(const boost::system::error_code& ec, bool connecting) {
  if (ec == beast::error::timeout) return failure_kind::timeout;
  if (connecting) return failure_kind::connect_failed;
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == asio::error::connection_aborted) {
    return failure_kind::connection_closed;
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) return failure_kind::protocol_error;
  return failure_kind::other;
}

}  // namespace

std::string host_header(std::string_view host, std::string_view port) {
  const bool ipv6 = host.find(':') != std::string_view::npos;
  std::string header = ipv6 ? "[" + std::string(host) + "]" : std::string(host);
  return header + ":" + std::string(port);
}

std::string serialize_http_request(std::string_view method, std::string_view host, std::string_view target,
                                   std::string_view body, std::string_view content_type,
                                   std::optional<std::size_t> json_length) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request.append("Host: ").append(host).append("\r\n");
  request.append("User-Agent: surge-bench\r\n");
  request.append("Accept: */*\r\n");
  if (!body.empty() || method == "POST") {
    request.append("Content-Type: ").append(content_type).append("\r\n");
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  if (json_length) {
    request.append("Inference-Header-Content-Length: ").append(std::to_string(*json_length)).append("\r\n");
  }
  request.append("\r\n");
  request.append(body);
  return request;
}

http_connection::http_connection(asio::any_io_executor executor, std::shared_ptr<const endpoint_list> endpoints,
                                 http_limits limits)
    : executor_(std::move(executor)), endpoints_(std::move(endpoints)), limits_(limits) {}

void http_connection::close() {
  if (!stream_) return;
  boost::system::error_code ignored;
  stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_->close();
  stream_.reset();
  buffer_.clear();
}

http_answer http_connection::fail(const boost::system::error_code& ec, bool connecting) {
  http_answer answer;
  answer.failure = classify(ec, connecting);
  answer.detail = ec.message();
  close();
  return answer;
}

asio::awaitable<std::optional<http_answer>> http_connection::send(std::string_view request) {
  if (!stream_) {
    stream_.emplace(executor_);
    stream_->expires_after(limits_.timeout);
    auto [ec, endpoint] = co_await stream_->async_connect(*endpoints_, as_tuple(use_awaitable));
    if (ec) co_return fail(ec, true);
    // Requests are written whole; Nagle would only hold back their tail.
    stream_->socket().set_option(asio::ip::tcp::no_delay(true), ec);
  }
  // One deadline for the write and the read together.
  stream_->expires_after(limits_.timeout);

  auto [write_ec, written] = co_await asio::async_write(*stream_, asio::buffer(request), as_tuple(use_awaitable));
  if (write_ec) co_return fail(write_ec, false);
  co_return std::nullopt;
}

asio::awaitable<http_answer> http_connection::exchange(std::string_view request) {
  if (auto failed = co_await send(request)) co_return std::move(*failed);

  http::response_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit_bytes));
  parser.body_limit(limits_.body_limit_bytes);
  auto [read_ec, read] = co_await http::async_read(*stream_, buffer_, parser, as_tuple(use_awaitable));
  if (read_ec) co_return fail(read_ec, false);
  stream_->expires_never();

  http_answer answer;
  auto& response = parser.get();
  answer.status = response.result_int();
  if (auto header = response.find("Inference-Header-Content-Length"); header != response.end()) {
    std::size_t value = 0;
    const auto text = header->value();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc{} && end == text.data() + text.size()) answer.json_length = value;
  }
  const bool keep_alive = response.keep_alive();
  answer.body = std::move(response.body());
  if (!keep_alive) close();
  co_return answer;
}

asio::awaitable<http_answer> http_connection::exchange_streaming(std::string_view request,
                                                                  const body_callback& on_body) {
  if (auto failed = co_await send(request)) co_return std::move(*failed);

  // A buffer_body parser hands over the body as it is parsed, chunk framing
  // removed, so each piece reaches on_body when its bytes arrive rather than
  // when the whole stream has ended.
  http::response_parser<http::buffer_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits_.header_limit_bytes));
  parser.body_limit(limits_.body_limit_bytes);
  auto [header_ec, header_read] = co_await http::async_read_header(*stream_, buffer_, parser, as_tuple(use_awaitable));
  if (header_ec) co_return fail(header_ec, false);

  http_answer answer;
  answer.status = parser.get().result_int();
  const bool streamed = answer.status == 200;
  char piece[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = piece;
    parser.get().body().size = sizeof piece;
    // read_some returns after each step of parsing, so a short SSE event is
    // delivered at once instead of waiting for the buffer to fill.
    auto [ec, read] = co_await http::async_read_some(*stream_, buffer_, parser, as_tuple(use_awaitable));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return fail(ec, false);
    const std::size_t got = sizeof piece - parser.get().body().size;
    if (got == 0) continue;
    if (streamed) {
      on_body(std::string_view(piece, got));
    } else {
      answer.body.append(piece, got);
    }
  }
  stream_->expires_never();
  if (!parser.get().keep_alive()) close();
  co_return answer;
}

}  // namespace surge::bench
