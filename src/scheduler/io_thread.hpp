#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

namespace surge {

// True when the calling thread is running the io_context behind `io` (an
// I/O thread of the pool), where nothing may block. For debug assertions
// in blocking calls; false for executors of other kinds.
inline bool on_io_thread(const boost::asio::any_io_executor& io) {
  const auto* pool = io.target<boost::asio::io_context::executor_type>();
  return pool != nullptr && pool->running_in_this_thread();
}

}  // namespace surge
