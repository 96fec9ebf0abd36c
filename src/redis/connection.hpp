#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redis/command.hpp"
#include "redis/reply.hpp"
#include "redis/resp_reader.hpp"
#include "redis/url.hpp"

namespace surge::redis {

namespace asio = boost::asio;

struct connection_options {
  // A connection attempt (resolve, connect, AUTH, SELECT) that takes longer
  // than this fails.
  std::chrono::milliseconds connect_timeout{2000};
  // The wait before the next attempt after a failure doubles from
  // min_backoff up to max_backoff, and starts again at min_backoff once a
  // connection has lasted stable_after.
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{1000};
  std::chrono::seconds stable_after{10};
  // Shown by CLIENT LIST; empty: no CLIENT SETNAME.
  std::string client_name;
};

// One TCP connection to Redis, kept open: commands from any thread are
// pipelined on it (many in flight, replies matched first in, first out) and
// their replies come back as values (reply::is_error()).
//
// When the connection drops, every command in flight fails with a transport
// error that says so, and the connection reconnects with backoff. A command
// sent while it is down waits for the next attempt and fails when that
// attempt fails, so nothing waits forever on a Redis that is gone.
//
// A blocking command (XREAD BLOCK, XREADGROUP BLOCK) holds the connection
// until it returns: give it a connection of its own.
class connection : public std::enable_shared_from_this<connection> {
 public:
  using handler_type = asio::any_completion_handler<void(reply)>;

  static std::shared_ptr<connection> create(asio::any_io_executor io, endpoint where,
                                            connection_options options = {});
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Starts connecting; from then on the connection reconnects by itself
  // until stop().
  void start();
  // Fails every command not yet answered and closes the socket. Any thread.
  void stop();
  // stop(), then waits until the connection's own coroutine has returned
  // and every command in flight has been answered: nothing of it is left
  // suspended when the io_context stops (a coroutine that never resumes is
  // never destroyed). Call from a thread that is not running the
  // io_context, while it runs.
  void stop_and_wait();

  template <typename CompletionToken>
  auto async_exec(command cmd, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(reply)>(
        [self = shared_from_this()](auto handler, command c) {
          self->submit(std::move(c), handler_type(std::move(handler)));
        },
        token, std::move(cmd));
  }

  asio::awaitable<reply> exec(command cmd);
  // Writes the commands together, in one write while connected; the
  // replies come back in the same order.
  asio::awaitable<std::vector<reply>> exec_all(std::vector<command> commands);

  bool connected() const { return connected_.load(std::memory_order_acquire); }
  // Why the last attempt failed or the last connection ended; empty if never.
  std::string last_error() const;
  // Counts successful connects: a change means Redis may have restarted.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  const endpoint& where() const { return where_; }

 private:
  struct waiting_command {
    command cmd;
    handler_type handler;
  };

  connection(asio::any_io_executor io, endpoint where, connection_options options);

  void submit(command cmd, handler_type handler);
  void submit_all(std::vector<command> cmds, std::vector<handler_type> handlers);
  // strand_ only: queues one command for the next write (or for the
  // reconnect), or fails it after stop().
  void enqueue(command cmd, handler_type handler);
  void kick_writer();
  void fail_all(std::deque<handler_type>& handlers, const std::string& message);
  void fail_waiting(const std::string& message);
  void set_error(std::string message);
  static void complete(handler_type handler, reply r);

  asio::awaitable<void> run();
  // Empty on success, else why it failed.
  asio::awaitable<std::string> connect_once();
  asio::awaitable<std::string> handshake();
  // Returns why the connection ended.
  asio::awaitable<std::string> read_loop();
  asio::awaitable<void> pause(std::chrono::milliseconds how_long);

  asio::strand<asio::any_io_executor> strand_;
  endpoint where_;
  connection_options options_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;  // connect deadline and backoff

  // strand_ only:
  std::unique_ptr<resp_reader> reader_;
  std::vector<char> read_buffer_;
  std::string out_;      // encoded commands not yet handed to a write
  std::string sending_;  // the bytes of the write in progress
  bool writing_{false};
  bool stopped_{false};
  bool started_{false};
  bool running_{false};                      // run() has not returned
  std::promise<void>* run_exited_{nullptr};  // stop_and_wait() waits here
  std::deque<handler_type> inflight_;  // written or in out_, awaiting replies in order
  std::deque<waiting_command> waiting_;  // sent while disconnected

  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> generation_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;  // guarded by error_mutex_
};

}  // namespace surge::redis
