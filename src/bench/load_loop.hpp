#pragma once

// How load is applied, apart from what is sent (load_target.hpp) and how the
// figures are shown (bench_report.hpp).
//
// Closed loop: N connections, each sending its next request as soon as the
// previous one is answered. Throughput is what the server sustains at that
// concurrency; latency is measured from the actual send.
//
// Open loop: requests are due on a schedule fixed in advance (constant or
// Poisson gaps at the asked rate). Each due request takes an idle connection,
// or opens one up to max_connections, or is counted as client_saturated.
// Latency is measured from when the request was due, not when it left, so a
// server that stalls is charged for every request it delayed (no coordinated
// omission).
//
// Both: requests sent (or due) during the warm-up are not counted; those sent
// during the measured window are counted whenever they finish, and the level
// lasts until the last of them has.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>

#include "bench/arrival_schedule.hpp"
#include "bench/latency_histogram.hpp"
#include "bench/load_target.hpp"

namespace surge::bench {

struct level_spec {
  enum class loop { closed, open };
  loop mode{loop::closed};
  std::uint32_t concurrency{1};  // closed loop: connections
  double rate{0};                // open loop: requests per second
};

struct loop_settings {
  std::chrono::nanoseconds warmup{std::chrono::seconds(2)};
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  arrival_process arrival{arrival_process::constant};
  std::uint64_t seed{1};
  std::uint32_t max_connections{1024};  // open loop
};

// Token streaming: figures per token, from successful requests only.
struct stream_result {
  latency_histogram time_to_first_token;    // from the send (closed loop) or due time (open loop) to the first text
  latency_histogram inter_token_latency;    // gaps between successive events with text
  latency_histogram time_per_output_token;  // per request: (end - first text) / (tokens - 1), as genai-perf has it
  std::uint64_t output_tokens{0};
  std::uint64_t without_text{0};   // successes that streamed no text at all
  std::uint64_t without_usage{0};  // successes whose tokens were counted as events (the server sent no usage)
};

struct level_result {
  level_spec spec;
  std::chrono::nanoseconds elapsed{0};  // start of the measured window to the end of its last request
  std::uint64_t requests{0};            // measured requests, whatever their outcome
  std::uint64_t successes{0};           // of which answered 200
  std::int64_t rows_per_request{1};
  latency_histogram latency;  // successes only
  std::map<unsigned, std::uint64_t> errors_by_status;     // answers other than 200
  std::map<failure_kind, std::uint64_t> errors_by_kind;   // no usable answer
  std::uint32_t connections{0};                           // opened during the level
  latency_histogram send_lag;  // open loop: how late after its due time each measured request left
  std::uint64_t internal_failures{0};                     // request coroutines that ended by exception
  std::optional<stream_result> stream;                    // token-streaming targets

  std::uint64_t errors() const { return requests - successes; }
  double elapsed_seconds() const { return std::chrono::duration<double>(elapsed).count(); }
  double throughput_rps() const;  // successes per second
  double rows_per_second() const;
  double output_tokens_per_second() const;  // token-streaming targets; 0 otherwise
};

// One level: its loop, and what it measured so far (read by the progress
// display from another thread while it runs).
class level_run {
 public:
  level_run(boost::asio::any_io_executor executor, load_target& target, level_spec spec, loop_settings settings);

  // Runs the warm-up, the measured window and the drain; completes when every
  // request has finished and every connection is closed.
  boost::asio::awaitable<void> run();

  enum class phase { starting, warmup, measuring, draining, done };
  struct progress {
    phase current{phase::starting};
    std::chrono::nanoseconds in_phase{0};  // time spent in the current phase
    std::uint64_t completed{0};            // every finished request, warm-up included
    std::uint64_t measured{0};
    std::uint64_t measured_errors{0};
    std::chrono::nanoseconds p99{0};
    std::uint32_t connections{0};
  };
  progress snapshot() const;

  level_result result() const;  // after run()
  const level_spec& spec() const { return spec_; }
  const loop_settings& settings() const { return settings_; }

 private:
  class connection_pool;

  boost::asio::awaitable<void> run_closed();
  boost::asio::awaitable<void> run_open();
  void record(const request_outcome& outcome, bench_clock::time_point sent, bench_clock::time_point finished);
  void record_stream(const stream_observation& stream, bench_clock::time_point sent, bench_clock::time_point finished);
  void record_internal_failure(std::exception_ptr failure);

  boost::asio::any_io_executor executor_;
  load_target& target_;
  level_spec spec_;
  loop_settings settings_;

  // Set by run() before any request starts; read-only afterwards.
  bench_clock::time_point start_{};
  bench_clock::time_point measure_from_{};
  bench_clock::time_point stop_at_{};

  std::atomic<std::uint64_t> completed_{0};
  std::atomic<std::uint32_t> connections_{0};
  std::atomic<bool> finished_{false};

  mutable std::mutex mutex_;
  level_result result_;  // guarded by mutex_
  bench_clock::time_point last_finish_{};  // guarded by mutex_
};

}  // namespace surge::bench
