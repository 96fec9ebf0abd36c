#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>

namespace surge::grpc_frontend {

// Counts the inference requests the gRPC frontend has admitted and not yet
// answered, so shutdown can stop admitting, wait for them, and only then
// stop the server. enter() and leave() are called from gRPC's threads and
// the instances'; wait_drained() runs on the I/O pool.
class request_gate {
 public:
  explicit request_gate(boost::asio::io_context& io);

  // False once draining: the caller refuses the request instead.
  bool enter();
  void leave();

  void start_draining();
  bool draining() const { return draining_.load(std::memory_order_acquire); }
  // Completes when nothing is in flight (after start_draining()).
  boost::asio::awaitable<void> wait_drained();

 private:
  std::atomic<bool> draining_{false};
  std::atomic<std::int64_t> inflight_{0};
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer drained_;  // on strand_; cancelled when inflight_ reaches 0 while draining
};

}  // namespace surge::grpc_frontend
