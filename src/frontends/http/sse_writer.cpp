#include "frontends/http/sse_writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>

namespace surge::http {

using asio::as_tuple;
using asio::use_awaitable;

sse_writer::sse_writer(connection_stream& stream, unsigned http_version, std::chrono::seconds write_timeout)
    : stream_(stream), chunked_(http_version >= 11), write_timeout_(write_timeout) {}

asio::awaitable<bool> sse_writer::write(std::string data) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(stream_.get_executor(), write_timeout_);
  auto result = co_await (asio::async_write(stream_, asio::buffer(data), as_tuple(use_awaitable)) ||
                          timer.async_wait(as_tuple(use_awaitable)));
  if (result.index() == 1) co_return false;  // too slow: the write was cancelled
  auto [ec, written] = std::get<0>(result);
  co_return !ec;
}

asio::awaitable<bool> sse_writer::start() {
  std::string head = chunked_ ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
  head +=
      "Server: surge\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\n";
  head += chunked_ ? "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  const bool ok = co_await write(std::move(head));
  co_return ok;
}

void sse_writer::add(std::string_view payload) {
  pending_ += "data: ";
  pending_ += payload;
  pending_ += "\n\n";
}

asio::awaitable<bool> sse_writer::flush() {
  if (pending_.empty()) co_return true;
  std::string out;
  if (chunked_) {
    char size[20];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", pending_.size());
    out.reserve(pending_.size() + static_cast<std::size_t>(n) + 2);
    out.append(size, static_cast<std::size_t>(n));
    out += pending_;
    out += "\r\n";
  } else {
    out = std::move(pending_);
  }
  pending_.clear();
  const bool ok = co_await write(std::move(out));
  co_return ok;
}

asio::awaitable<bool> sse_writer::finish() {
  if (!co_await flush()) co_return false;
  if (!chunked_) co_return true;
  // Named, not a temporary in the co_await expression: GCC 12 miscompiles those.
  std::string last_chunk = "0\r\n\r\n";
  const bool ok = co_await write(std::move(last_chunk));
  co_return ok;
}

}  // namespace surge::http
