#include "upstream/http_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace surge::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

// Responses larger than this are refused rather than buffered.
constexpr std::uint64_t body_limit_bytes = 1024ull * 1024 * 1024;

}  // namespace

http_exchange::http_exchange(asio::any_io_executor executor, http_url url)
    : executor_(std::move(executor)), url_(std::move(url)) {}

void http_exchange::close() {
  if (!stream_) return;
  boost::system::error_code ignored;
  stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_->close();
  stream_.reset();
  buffer_.clear();
}

asio::awaitable<http_reply> http_exchange::post(std::string body, std::string_view content_type,
                                               std::optional<std::size_t> json_length,
                                               std::chrono::steady_clock::duration timeout) {
  http_reply reply;
  const auto fail = [&](const boost::system::error_code& ec, std::string_view what) {
    reply.timed_out = ec == beast::error::timeout;
    reply.failure = std::string(what) + ": " + (reply.timed_out ? std::string("timed out") : ec.message());
    close();
    return reply;
  };

  // One deadline for connecting, writing and reading.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!stream_) {
    // Resolving is asynchronous: no DNS lookup ever blocks an I/O thread.
    asio::ip::tcp::resolver resolver(executor_);
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(url_.host, url_.port, as_tuple(use_awaitable));
    if (resolve_ec) co_return fail(resolve_ec, "cannot resolve " + url_.host);
    stream_.emplace(executor_);
    stream_->expires_at(deadline);
    auto [ec, endpoint] = co_await stream_->async_connect(endpoints, as_tuple(use_awaitable));
    if (ec) co_return fail(ec, "cannot connect to " + url_.host_header);
    stream_->socket().set_option(asio::ip::tcp::no_delay(true), ec);
  }
  stream_->expires_at(deadline);

  http::request<http::string_body> request{http::verb::post, url_.target, 11};
  request.set(http::field::host, url_.host_header);
  request.set(http::field::user_agent, "surge");
  request.set(http::field::content_type, content_type);
  if (json_length) request.set("Inference-Header-Content-Length", std::to_string(*json_length));
  request.keep_alive(true);
  request.body() = std::move(body);
  request.prepare_payload();
  auto [write_ec, written] = co_await http::async_write(*stream_, request, as_tuple(use_awaitable));
  if (write_ec) co_return fail(write_ec, "sending to " + url_.host_header);

  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit_bytes);
  auto [read_ec, read] = co_await http::async_read(*stream_, buffer_, parser, as_tuple(use_awaitable));
  if (read_ec) co_return fail(read_ec, "reading the answer of " + url_.host_header);
  stream_->expires_never();

  auto& response = parser.get();
  reply.status = response.result_int();
  if (auto header = response.find("Inference-Header-Content-Length"); header != response.end()) {
    std::size_t value = 0;
    const auto text = header->value();
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc{} && end == text.data() + text.size()) reply.json_length = value;
  }
  const bool keep_alive = response.keep_alive();
  reply.body = std::move(response.body());
  if (!keep_alive) close();
  co_return reply;
}

}  // namespace surge::upstream
