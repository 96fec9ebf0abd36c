#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/worker_pool_defaults.hpp"
#include "redis/connection.hpp"
#include "streams/entries.hpp"
#include "worker/loaded_model.hpp"

namespace surge::worker {

namespace asio = boost::asio;

struct worker_settings {
  std::string name;  // the consumer name and the workers set's member
  std::chrono::milliseconds heartbeat{worker_pool::default_heartbeat};
  std::chrono::milliseconds claim_idle{worker_pool::default_claim_idle};
  std::uint32_t max_deliveries{worker_pool::default_max_deliveries};
  // Entries per XREADGROUP: the model's max_batch_size, or 1.
  std::uint32_t read_count{1};
  // After the first entry arrives, keep reading this long to fill the batch.
  std::chrono::milliseconds max_queue_delay{0};
};

// Settings from the model's config (worker_pool, max_batch_size,
// dynamic_batching) and the worker's name.
worker_settings settings_from(const config::ModelConfig& config, std::string name);

// The consumer side of docs/redis-streams.md for one warm model: joins the
// consumer group, heartbeats, reads batches, answers every entry (expired:
// 504, invalid: 400, the rest executed), acknowledges only after the reply
// is written, keeps long batches claimed, reclaims entries of dead workers
// and dead-letters those delivered too often, and trims the stream.
//
// Runs on a single-threaded io_context; batches run on the model's
// instance threads.
class stream_worker : public std::enable_shared_from_this<stream_worker> {
 public:
  struct counters {
    std::uint64_t requests{0};  // entries executed
    std::uint64_t batches{0};
    std::uint64_t rejected{0};     // answered without executing (400, 404, 504)
    std::uint64_t dead_lettered{0};
  };

  static std::shared_ptr<stream_worker> create(asio::any_io_executor io, redis::endpoint where, loaded_model& model,
                                               worker_settings settings);

  // Joins, serves until stop(), then leaves the pool (ZREM) after answering
  // and acknowledging the batch in progress.
  asio::awaitable<void> run();
  // Any thread; run() notices within one read.
  void stop();

  const counters& stats() const { return counters_; }

 private:
  struct job;

  stream_worker(asio::any_io_executor io, redis::endpoint where, loaded_model& model, worker_settings settings);

  asio::awaitable<bool> join();
  asio::awaitable<void> heartbeat_loop();
  asio::awaitable<void> trim();
  asio::awaitable<std::vector<streams::stream_entry>> read_batch();
  asio::awaitable<std::vector<streams::stream_entry>> reclaim();
  asio::awaitable<void> process(std::vector<streams::stream_entry> entries);
  asio::awaitable<void> execute(std::vector<job>& jobs);
  asio::awaitable<void> keep_claimed(std::vector<std::string> ids);
  asio::awaitable<void> answer_and_ack(std::vector<job>& jobs);
  asio::awaitable<void> sleep(std::chrono::milliseconds how_long);
  bool ensure_group_command_failed(const redis::reply& r);

  asio::any_io_executor io_;
  loaded_model& model_;
  worker_settings settings_;
  std::string requests_key_;
  std::string workers_key_;
  std::string dead_key_;
  std::shared_ptr<redis::connection> commands_;
  std::shared_ptr<redis::connection> reads_;  // XREADGROUP BLOCK holds it
  asio::steady_timer heartbeat_timer_;
  bool stopping_{false};
  bool leaving_{false};  // ZREM sent: no more heartbeats
  bool left_{false};
  std::chrono::steady_clock::time_point last_reclaim_{};
  // Reclaimed entries that were delivered before: one of them may be what
  // killed the last worker, so each runs alone and cannot take innocent
  // batch-mates down with it again.
  std::unordered_set<std::string> run_alone_;
  counters counters_;
};

}  // namespace surge::worker
