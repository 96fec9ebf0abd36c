#include "frontends/grpc/request_gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace surge::grpc_frontend {

namespace asio = boost::asio;

request_gate::request_gate(asio::io_context& io)
    : strand_(asio::make_strand(io)), drained_(strand_, asio::steady_timer::time_point::max()) {}

bool request_gate::enter() {
  // Count first, then look: a drain that starts in between either sees this
  // request counted or this request sees the drain.
  inflight_.fetch_add(1, std::memory_order_acq_rel);
  if (!draining()) return true;
  leave();
  return false;
}

void request_gate::leave() {
  if (inflight_.fetch_sub(1, std::memory_order_acq_rel) == 1 && draining()) {
    asio::post(strand_, [this] {
      if (inflight_.load(std::memory_order_acquire) == 0) drained_.cancel();
    });
  }
}

void request_gate::start_draining() { draining_.store(true, std::memory_order_release); }

asio::awaitable<void> request_gate::wait_drained() {
  co_await asio::post(strand_, asio::use_awaitable);
  if (inflight_.load(std::memory_order_acquire) == 0) co_return;
  co_await drained_.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace surge::grpc_frontend
