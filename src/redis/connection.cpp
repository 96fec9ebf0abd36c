#include "redis/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>

namespace surge::redis {

namespace {

using asio::as_tuple;
using asio::use_awaitable;
using clock = std::chrono::steady_clock;

constexpr std::size_t read_chunk_bytes = 64 * 1024;

// Collects the replies of an exec_all on the connection's strand and hands
// them over when the last one arrives.
struct pipeline_state {
  // Constructed, never assigned: Boost 1.81's any_completion_handler
  // assignment operator recurses without end.
  explicit pipeline_state(asio::any_completion_handler<void(std::vector<reply>)> h) : handler(std::move(h)) {}
  std::vector<reply> replies;
  std::size_t remaining{0};
  asio::any_completion_handler<void(std::vector<reply>)> handler;
};

// asio::append cannot carry an any_completion_handler in Boost 1.81 (it
// re-wraps the handler endlessly), so the value travels in a lambda.
template <typename Handler, typename Value>
void invoke_on_its_executor(Handler handler, Value value) {
  auto executor = asio::get_associated_executor(handler);
  asio::dispatch(executor, [handler = std::move(handler), value = std::move(value)]() mutable {
    std::move(handler)(std::move(value));
  });
}

}  // namespace

std::shared_ptr<connection> connection::create(asio::any_io_executor io, endpoint where,
                                               connection_options options) {
  return std::shared_ptr<connection>(new connection(std::move(io), std::move(where), std::move(options)));
}

connection::connection(asio::any_io_executor io, endpoint where, connection_options options)
    : strand_(asio::make_strand(io)),
      where_(std::move(where)),
      options_(std::move(options)),
      socket_(strand_),
      timer_(strand_),
      read_buffer_(read_chunk_bytes) {}

connection::~connection() = default;

void connection::start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->started_ || self->stopped_) return;
    self->started_ = true;
    self->running_ = true;  // from here, not from run(): stop_and_wait() must wait for it
    asio::co_spawn(self->strand_, self->run(), asio::detached);
  });
}

void connection::stop_and_wait() {
  stop();
  std::promise<void> done;
  asio::post(strand_, [this, &done] {
    if (running_) {
      run_exited_ = &done;  // run() answers it as it returns
    } else {
      done.set_value();
    }
  });
  done.get_future().wait();
}

void connection::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    self->stopped_ = true;
    boost::system::error_code ignored;
    self->socket_.close(ignored);
    self->timer_.cancel();
    // Answered here rather than when the read loop notices the closed
    // socket: after stop() returns, no handler is left with the connection.
    const auto message = "redis connection to " + self->where_.display() + " was closed";
    self->fail_waiting(message);
    self->fail_all(self->inflight_, message);
    self->out_.clear();
  });
}

std::string connection::last_error() const {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

void connection::set_error(std::string message) {
  std::lock_guard lock(error_mutex_);
  last_error_ = std::move(message);
}

void connection::complete(handler_type handler, reply r) {
  // On the handler's own executor (Boost 1.81's any_completion_executor
  // cannot be required never to block, so this is a dispatch). The
  // connection's state is only touched through posts to its strand, so a
  // handler that runs inline cannot disturb the loop that completed it.
  invoke_on_its_executor(std::move(handler), std::move(r));
}

void connection::fail_all(std::deque<handler_type>& handlers, const std::string& message) {
  auto failed = std::move(handlers);
  handlers.clear();
  for (auto& handler : failed) complete(std::move(handler), reply::transport_error(message));
}

void connection::fail_waiting(const std::string& message) {
  auto failed = std::move(waiting_);
  waiting_.clear();
  for (auto& waiting : failed) complete(std::move(waiting.handler), reply::transport_error(message));
}

void connection::submit(command cmd, handler_type handler) {
  asio::post(strand_, [self = shared_from_this(), cmd = std::move(cmd), handler = std::move(handler)]() mutable {
    self->enqueue(std::move(cmd), std::move(handler));
    self->kick_writer();
  });
}

void connection::submit_all(std::vector<command> cmds, std::vector<handler_type> handlers) {
  // One post for the lot: the commands are encoded back to back before the
  // writer runs, so they leave in one write instead of the first alone.
  asio::post(strand_, [self = shared_from_this(), cmds = std::move(cmds), handlers = std::move(handlers)]() mutable {
    for (std::size_t i = 0; i < cmds.size(); ++i) self->enqueue(std::move(cmds[i]), std::move(handlers[i]));
    self->kick_writer();
  });
}

void connection::enqueue(command cmd, handler_type handler) {
  if (stopped_) {
    complete(std::move(handler), reply::transport_error("redis connection to " + where_.display() + " was closed"));
    return;
  }
  if (!connected()) {
    waiting_.push_back({std::move(cmd), std::move(handler)});
    return;
  }
  cmd.encode_to(out_);
  inflight_.push_back(std::move(handler));
}

asio::awaitable<reply> connection::exec(command cmd) { co_return co_await async_exec(std::move(cmd), use_awaitable); }

asio::awaitable<std::vector<reply>> connection::exec_all(std::vector<command> commands) {
  auto initiation = [self = shared_from_this()](auto handler, std::vector<command> cmds) {
    auto state = std::make_shared<pipeline_state>(std::move(handler));
    state->replies.resize(cmds.size());
    state->remaining = cmds.size();
    if (cmds.empty()) {
      invoke_on_its_executor(std::move(state->handler), std::vector<reply>{});
      return;
    }
    std::vector<handler_type> handlers;
    handlers.reserve(cmds.size());
    for (std::size_t i = 0; i < cmds.size(); ++i) {
      // Bound to the strand so the replies are collected without a lock.
      handlers.emplace_back(asio::bind_executor(self->strand_, [state, i](reply r) {
        state->replies[i] = std::move(r);
        if (--state->remaining == 0) invoke_on_its_executor(std::move(state->handler), std::move(state->replies));
      }));
    }
    self->submit_all(std::move(cmds), std::move(handlers));
  };
  co_return co_await asio::async_initiate<decltype(use_awaitable), void(std::vector<reply>)>(
      std::move(initiation), use_awaitable, std::move(commands));
}

void connection::kick_writer() {
  if (writing_ || out_.empty() || !connected()) return;
  writing_ = true;
  sending_.swap(out_);
  out_.clear();
  const auto socket_generation = generation();
  asio::async_write(socket_, asio::buffer(sending_),
                    asio::bind_executor(strand_, [self = shared_from_this(), socket_generation](
                                                     boost::system::error_code ec, std::size_t) {
                      self->writing_ = false;
                      self->sending_.clear();
                      // A write on a connection that has since been replaced
                      // must not close its successor.
                      if (ec && socket_generation == self->generation()) {
                        // The read loop sees the closed socket and fails what is in flight.
                        boost::system::error_code ignored;
                        self->socket_.close(ignored);
                        return;
                      }
                      self->kick_writer();
                    }));
}

asio::awaitable<void> connection::pause(std::chrono::milliseconds how_long) {
  timer_.expires_after(how_long);
  co_await timer_.async_wait(as_tuple(use_awaitable));
}

asio::awaitable<std::string> connection::handshake() {
  std::vector<command> commands;
  if (!where_.password.empty()) {
    command auth{"AUTH"};
    if (!where_.user.empty()) auth.arg(where_.user);
    auth.arg(where_.password);
    commands.push_back(std::move(auth));
  }
  if (where_.db != 0) commands.push_back(command{"SELECT"}.arg(static_cast<std::uint64_t>(where_.db)));
  if (!options_.client_name.empty()) commands.push_back(command{"CLIENT", "SETNAME"}.arg(options_.client_name));
  if (commands.empty()) co_return std::string{};

  std::string bytes;
  for (const auto& c : commands) c.encode_to(bytes);
  auto [write_ec, written] = co_await asio::async_write(socket_, asio::buffer(bytes), as_tuple(use_awaitable));
  if (write_ec) co_return "handshake: " + write_ec.message();

  std::size_t answered = 0;
  while (answered < commands.size()) {
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(read_buffer_), as_tuple(use_awaitable));
    if (ec) co_return "handshake: " + ec.message();
    if (auto problem = reader_->feed(read_buffer_.data(), n)) co_return "handshake: " + problem->message;
    for (;;) {
      auto next = reader_->next();
      if (std::holds_alternative<resp_reader::need_more>(next)) break;
      if (auto* problem = std::get_if<resp_reader::protocol_error>(&next)) co_return "handshake: " + problem->message;
      const auto& r = std::get<reply>(next);
      if (r.is_error()) co_return std::string(commands[answered].name()) + ": " + std::string(r.text());
      ++answered;
    }
  }
  co_return std::string{};
}

asio::awaitable<std::string> connection::connect_once() {
  using namespace asio::experimental::awaitable_operators;
  reader_ = std::make_unique<resp_reader>();
  asio::ip::tcp::resolver resolver(strand_);
  timer_.expires_after(options_.connect_timeout);

  auto attempt = [&]() -> asio::awaitable<std::string> {
    auto [resolve_ec, results] =
        co_await resolver.async_resolve(where_.host, std::to_string(where_.port), as_tuple(use_awaitable));
    if (resolve_ec) co_return "cannot resolve " + where_.host + ": " + resolve_ec.message();
    socket_ = asio::ip::tcp::socket(strand_);
    auto [connect_ec, peer] = co_await asio::async_connect(socket_, results, as_tuple(use_awaitable));
    if (connect_ec) co_return connect_ec.message();
    boost::system::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    co_return co_await handshake();
  };
  auto outcome = co_await (attempt() || timer_.async_wait(as_tuple(use_awaitable)));
  if (outcome.index() == 1) {
    boost::system::error_code ignored;
    socket_.close(ignored);
    co_return stopped_ ? std::string("stopped")
                       : "no connection within " + std::to_string(options_.connect_timeout.count()) + " ms";
  }
  co_return std::get<0>(std::move(outcome));
}

asio::awaitable<std::string> connection::read_loop() {
  for (;;) {
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(read_buffer_), as_tuple(use_awaitable));
    if (ec == asio::error::eof) co_return "closed by the server";
    if (ec) co_return ec.message();
    if (auto problem = reader_->feed(read_buffer_.data(), n)) co_return "protocol error: " + problem->message;
    for (;;) {
      auto next = reader_->next();
      if (std::holds_alternative<resp_reader::need_more>(next)) break;
      if (auto* problem = std::get_if<resp_reader::protocol_error>(&next)) {
        co_return "protocol error: " + problem->message;
      }
      if (inflight_.empty()) co_return "reply nobody asked for: " + std::get<reply>(next).describe();
      auto handler = std::move(inflight_.front());
      inflight_.pop_front();
      complete(std::move(handler), std::get<reply>(std::move(next)));
    }
  }
}

asio::awaitable<void> connection::run() {
  auto self = shared_from_this();  // alive while the loop runs
  auto backoff = options_.min_backoff;
  const auto name = where_.display();
  while (!stopped_) {
    auto failure = co_await connect_once();
    if (stopped_) break;
    if (!failure.empty()) {
      const auto message = "redis at " + name + " is unreachable: " + failure;
      set_error(message);
      fail_waiting(message);
      co_await pause(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }

    const auto connected_at = clock::now();
    generation_.fetch_add(1, std::memory_order_acq_rel);
    connected_.store(true, std::memory_order_release);
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) {
      w.cmd.encode_to(out_);
      inflight_.push_back(std::move(w.handler));
    }
    kick_writer();

    const auto why = co_await read_loop();
    connected_.store(false, std::memory_order_release);
    boost::system::error_code ignored;
    socket_.close(ignored);
    out_.clear();
    const auto message = "redis connection to " + name + " lost: " + (stopped_ ? std::string("closed") : why);
    set_error(message);
    fail_all(inflight_, message);
    if (clock::now() - connected_at >= options_.stable_after) backoff = options_.min_backoff;
    if (stopped_) break;
    co_await pause(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  const auto message = "redis connection to " + name + " was closed";
  fail_all(inflight_, message);
  fail_waiting(message);
  running_ = false;
  if (run_exited_) std::exchange(run_exited_, nullptr)->set_value();
}

}  // namespace surge::redis
