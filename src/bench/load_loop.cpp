#include "bench/load_loop.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <vector>

namespace surge::bench {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;

namespace {

// Lets a coroutine wait for a set of spawned ones. add() may be called from
// anywhere before wait(); done() and the waiting both run on the group's
// strand, so once wait() has returned nothing refers to the group any more.
class wait_group {
 public:
  explicit wait_group(const asio::any_io_executor& executor)
      : strand_(asio::make_strand(executor)), wake_(strand_, asio::steady_timer::time_point::max()) {}

  void add() { pending_.fetch_add(1); }

  void done() {
    asio::post(strand_, [this] {
      if (pending_.fetch_sub(1) == 1) wake_.cancel();
    });
  }

  asio::awaitable<void> wait() {
    // The check and the wait run as a coroutine of the strand, where done()
    // wakes it, so a wake-up cannot slip in between them.
    co_await asio::co_spawn(
        strand_,
        [this]() -> asio::awaitable<void> {
          while (pending_.load() > 0) co_await wake_.async_wait(as_tuple(use_awaitable));
        },
        use_awaitable);
  }

 private:
  asio::strand<asio::any_io_executor> strand_;
  asio::steady_timer wake_;  // never expires; cancelled when the last one is done
  std::atomic<std::uint64_t> pending_{0};
};

}  // namespace

double level_result::throughput_rps() const {
  const double seconds = elapsed_seconds();
  return seconds > 0 ? static_cast<double>(successes) / seconds : 0.0;
}

double level_result::rows_per_second() const { return throughput_rps() * static_cast<double>(rows_per_request); }

double level_result::output_tokens_per_second() const {
  const double seconds = elapsed_seconds();
  return stream && seconds > 0 ? static_cast<double>(stream->output_tokens) / seconds : 0.0;
}

// Open loop: connections are taken by due requests and given back when
// answered. Grows on demand so a stalled server shows up as more
// connections (up to the limit), never as a later send.
class level_run::connection_pool {
 public:
  struct slot {
    asio::any_io_executor executor;  // a strand: the driver's I/O and its request coroutine
    std::unique_ptr<request_driver> driver;
  };

  connection_pool(asio::any_io_executor executor, load_target& target, std::uint32_t limit,
                  std::atomic<std::uint32_t>& opened)
      : executor_(std::move(executor)), target_(target), limit_(limit), opened_(opened) {}

  // An idle connection, a new one, or nullptr when `limit` are all busy.
  slot* acquire() {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto* s = idle_.back();  // the most recently used: warm, and lets the others idle out
      idle_.pop_back();
      return s;
    }
    if (all_.size() >= limit_) return nullptr;
    auto s = std::make_unique<slot>();
    s->executor = asio::make_strand(executor_);
    s->driver = target_.make_driver(s->executor);
    all_.push_back(std::move(s));
    opened_.fetch_add(1);
    return all_.back().get();
  }

  void release(slot* s) {
    std::lock_guard lock(mutex_);
    idle_.push_back(s);
  }

  // Only once no request is in flight.
  void close_all() {
    std::lock_guard lock(mutex_);
    for (auto& s : all_) s->driver->close();
  }

 private:
  asio::any_io_executor executor_;
  load_target& target_;
  std::uint32_t limit_;
  std::atomic<std::uint32_t>& opened_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<slot>> all_;  // guarded by mutex_
  std::vector<slot*> idle_;                 // guarded by mutex_
};

level_run::level_run(asio::any_io_executor executor, load_target& target, level_spec spec, loop_settings settings)
    : executor_(std::move(executor)), target_(target), spec_(spec), settings_(settings) {
  result_.spec = spec;
  if (target_.summary().generation) result_.stream.emplace();
}

asio::awaitable<void> level_run::run() {
  {
    std::lock_guard lock(mutex_);
    start_ = bench_clock::now();
    measure_from_ = start_ + settings_.warmup;
    stop_at_ = measure_from_ + settings_.duration;
    last_finish_ = stop_at_;
  }
  if (spec_.mode == level_spec::loop::closed) {
    co_await run_closed();
  } else {
    co_await run_open();
  }
  std::lock_guard lock(mutex_);
  result_.elapsed = last_finish_ - measure_from_;
  result_.connections = connections_.load();
  result_.rows_per_request = target_.summary().rows_per_request;
  finished_.store(true);
}

asio::awaitable<void> level_run::run_closed() {
  std::vector<std::unique_ptr<request_driver>> drivers;
  wait_group workers(executor_);
  for (std::uint32_t i = 0; i < spec_.concurrency; ++i) {
    asio::any_io_executor strand = asio::make_strand(executor_);
    drivers.push_back(target_.make_driver(strand));
    connections_.fetch_add(1);
    workers.add();
    auto& driver = *drivers.back();
    asio::co_spawn(
        strand,
        [this, &driver]() -> asio::awaitable<void> {
          while (bench_clock::now() < stop_at_) {
            const auto sent = bench_clock::now();
            const auto outcome = co_await driver.send_one();
            record(outcome, sent, bench_clock::now());
          }
          driver.close();
        },
        [this, &workers](std::exception_ptr failure) {
          if (failure) record_internal_failure(failure);
          workers.done();
        });
  }
  co_await workers.wait();
}

asio::awaitable<void> level_run::run_open() {
  arrival_schedule schedule(settings_.arrival, spec_.rate, settings_.seed);
  connection_pool pool(executor_, target_, settings_.max_connections, connections_);
  wait_group in_flight(executor_);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  latency_histogram send_lag;  // only this coroutine touches it until the end

  for (;;) {
    const auto due = start_ + schedule.next();
    if (due >= stop_at_) break;
    if (due > bench_clock::now()) {
      timer.expires_at(due);
      auto [ec] = co_await timer.async_wait(as_tuple(use_awaitable));
      if (ec) break;  // cancelled: stop sending, still wait for what is in flight
    } else {
      // Behind schedule: let the requests in flight run before sending more,
      // or with one I/O thread none would finish until the schedule caught up.
      co_await asio::post(timer.get_executor(), use_awaitable);
    }
    if (due >= measure_from_) send_lag.record(bench_clock::now() - due);

    auto* slot = pool.acquire();
    if (!slot) {
      record({failure_kind::client_saturated, 0}, due, due);
      continue;
    }
    in_flight.add();
    asio::co_spawn(
        slot->executor,
        [this, slot, due, &pool]() -> asio::awaitable<void> {
          const auto outcome = co_await slot->driver->send_one();
          // From when it was due: time spent waiting to be sent is the server's
          // doing too (it held the connections or the client's thread).
          record(outcome, due, bench_clock::now());
          pool.release(slot);
        },
        [this, &in_flight](std::exception_ptr failure) {
          if (failure) record_internal_failure(failure);
          in_flight.done();
        });
  }
  co_await in_flight.wait();
  pool.close_all();
  std::lock_guard lock(mutex_);
  result_.send_lag = std::move(send_lag);
}

void level_run::record(const request_outcome& outcome, bench_clock::time_point sent, bench_clock::time_point finished) {
  completed_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  if (sent < measure_from_) return;
  ++result_.requests;
  if (outcome.success()) {
    ++result_.successes;
    result_.latency.record(finished - sent);
    if (outcome.stream && result_.stream) record_stream(*outcome.stream, sent, finished);
  } else if (outcome.failure != failure_kind::none) {
    ++result_.errors_by_kind[outcome.failure];
  } else {
    ++result_.errors_by_status[outcome.status];
  }
  last_finish_ = std::max(last_finish_, finished);
}

// Under mutex_.
void level_run::record_stream(const stream_observation& stream, bench_clock::time_point sent,
                              bench_clock::time_point finished) {
  auto& figures = *result_.stream;
  figures.output_tokens += stream.output_tokens;
  if (!stream.tokens_from_usage) ++figures.without_usage;
  if (!stream.first_token_at) {
    ++figures.without_text;
    return;
  }
  figures.time_to_first_token.record(*stream.first_token_at - sent);
  for (const auto gap : stream.inter_token_gaps) figures.inter_token_latency.record(gap);
  if (stream.output_tokens > 1) {
    figures.time_per_output_token.record((finished - *stream.first_token_at) /
                                         static_cast<std::int64_t>(stream.output_tokens - 1));
  }
}

void level_run::record_internal_failure(std::exception_ptr) {
  std::lock_guard lock(mutex_);
  ++result_.internal_failures;
}

level_run::progress level_run::snapshot() const {
  progress p;
  const auto now = bench_clock::now();
  std::lock_guard lock(mutex_);
  if (finished_.load()) {
    p.current = phase::done;
  } else if (start_ == bench_clock::time_point{}) {
    p.current = phase::starting;
  } else if (now < measure_from_) {
    p.current = phase::warmup;
    p.in_phase = now - start_;
  } else if (now < stop_at_) {
    p.current = phase::measuring;
    p.in_phase = now - measure_from_;
  } else {
    p.current = phase::draining;
    p.in_phase = now - stop_at_;
  }
  p.completed = completed_.load(std::memory_order_relaxed);
  p.measured = result_.requests;
  p.measured_errors = result_.requests - result_.successes;
  p.p99 = result_.latency.value_at_percentile(99);
  p.connections = connections_.load();
  return p;
}

level_result level_run::result() const {
  std::lock_guard lock(mutex_);
  return result_;
}

}  // namespace surge::bench
