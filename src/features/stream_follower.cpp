#include "features/stream_follower.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <iostream>

#include "features/feature_event_parse.hpp"

namespace surge::features {

namespace asio = boost::asio;

namespace {
constexpr int entries_per_read = 1000;
}

std::shared_ptr<stream_follower> stream_follower::create(asio::any_io_executor io, redis::endpoint where,
                                                         const feature_spec& spec, window_store& store,
                                                         event_counters counters) {
  return std::shared_ptr<stream_follower>(new stream_follower(std::move(io), std::move(where), spec, store, counters));
}

stream_follower::stream_follower(asio::any_io_executor io, redis::endpoint where, const feature_spec& spec,
                                 window_store& store, event_counters counters)
    : io_(io), spec_(spec), store_(store), counters_(counters) {
  redis::connection_options options;
  options.client_name = "surge-features-" + spec.model;
  connection_ = redis::connection::create(io, std::move(where), options);
}

stream_follower::~stream_follower() = default;

void stream_follower::start() {
  started_ = true;
  connection_->start();
  asio::co_spawn(io_, run(), [self = shared_from_this()](std::exception_ptr failure) {
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        std::cerr << "surge: features " << self->spec_.model << ": " << e.what() << std::endl;
      }
    }
    self->finished_.set_value();
  });
}

std::optional<error> stream_follower::wait_caught_up(std::chrono::milliseconds timeout) {
  auto future = caught_up_.get_future();
  if (future.wait_for(timeout) != std::future_status::ready) {
    return make_error(error_code::unavailable, "features.stream: " + spec_.stream_key + " was not read within " +
                                                   std::to_string(timeout.count() / 1000) + " s");
  }
  return future.get();
}

void stream_follower::stop() {
  stopped_ = true;
  if (!started_) return;
  connection_->stop();  // ends a blocking read at once
  finished_.get_future().wait();
  connection_->stop_and_wait();
}

void stream_follower::caught_up(std::optional<error> outcome) {
  if (caught_up_set_) return;
  caught_up_set_ = true;
  caught_up_.set_value(std::move(outcome));
}

void stream_follower::apply_all(const std::vector<streams::stream_entry>& entries) {
  for (const auto& entry : entries) {
    auto event = parse_event(entry, spec_);
    if (!event) {
      counters_.malformed->increment();
      continue;
    }
    switch (store_.apply(*event)) {
      case window_store::outcome::too_late: counters_.too_late->increment(); break;
      case window_store::outcome::late:
        counters_.late->increment();
        counters_.applied->increment();
        break;
      case window_store::outcome::applied: counters_.applied->increment(); break;
    }
  }
}

asio::awaitable<void> stream_follower::run() {
  auto self = shared_from_this();
  asio::steady_timer pause(io_);
  const auto failed = [&](const redis::reply& r, const std::string& doing) {
    return make_error(error_code::unavailable, "features.stream: " + doing + " " + spec_.stream_key + " at " +
                                                   connection_->where().display() + ": " + std::string(r.text()));
  };
  // The stream as it stands now: read up to its last entry, then follow.
  auto newest = co_await connection_->exec(redis::command{"XREVRANGE", spec_.stream_key, "+", "-", "COUNT", "1"});
  if (stopped_) {
    caught_up(make_error(error_code::not_ready, "stopped"));
    co_return;
  }
  if (newest.is_error()) {
    caught_up(failed(newest, "reading"));
    co_return;
  }
  std::string last_id = "0-0";
  const auto end = streams::entries_of_list(std::move(newest));
  if (!end.empty()) {
    const std::string end_id = end.front().id;
    std::string start = "-";
    while (!stopped_) {
      redis::command range{"XRANGE", spec_.stream_key, start, end_id, "COUNT"};
      range.arg(entries_per_read);
      auto r = co_await connection_->exec(std::move(range));
      if (stopped_) break;
      if (r.is_error()) {
        caught_up(failed(r, "reading"));
        co_return;
      }
      const auto entries = streams::entries_of_list(std::move(r));
      apply_all(entries);
      if (entries.empty() || entries.back().id == end_id) break;
      last_id = entries.back().id;
      start = "(" + last_id;
    }
    last_id = end_id;
  }
  caught_up(std::nullopt);

  while (!stopped_) {
    redis::command read{"XREAD", "COUNT"};
    read.arg(entries_per_read).arg("BLOCK").arg(1000).arg("STREAMS").arg(spec_.stream_key).arg(last_id);
    auto r = co_await connection_->exec(std::move(read));
    if (stopped_) break;
    if (r.is_error()) {
      // A transport failure already waited out the reconnect backoff; a
      // server error (the key changed type) would repeat at once.
      if (!r.transport_failure()) {
        std::cerr << "surge: features " << spec_.model << ": reading " << spec_.stream_key << ": " << r.text()
                  << std::endl;
        pause.expires_after(std::chrono::seconds(1));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      continue;
    }
    auto entries = streams::entries_of_read(std::move(r), spec_.stream_key);
    if (entries.empty()) continue;
    last_id = entries.back().id;
    apply_all(entries);
  }
}

}  // namespace surge::features
