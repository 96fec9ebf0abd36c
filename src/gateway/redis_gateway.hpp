#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model_config.pb.h"
#include "gateway/circuit_breaker.hpp"
#include "gateway/pending_table.hpp"
#include "instance/instance.hpp"
#include "metrics/model_metrics.hpp"
#include "metrics/registry.hpp"
#include "redis/connection.hpp"
#include "redis/url.hpp"
#include "streams/entries.hpp"

namespace surge::gateway {

namespace asio = boost::asio;

struct gateway_options {
  redis::endpoint redis;
  // Names this gateway's reply stream, surge:replies:<id>; empty: made up
  // from the host name, the process id and a random number.
  std::string gateway_id;
};

// The producer side of docs/redis-streams.md, shared by every worker-pool
// model of one `surge serve`: batches from the models' schedulers become
// request entries (one per request), one coroutine reads this gateway's
// reply stream and answers each request exactly once, a timer enforces
// deadlines, and a circuit breaker per model fails requests fast when no
// worker can answer them.
//
// All state lives on one strand; the Redis connections are pipelined, the
// reply stream has a connection of its own (XREAD BLOCK holds it).
class redis_gateway : public std::enable_shared_from_this<redis_gateway> {
 public:
  class model;  // one worker-pool model's keys, breaker and counters

  static std::shared_ptr<redis_gateway> create(asio::any_io_executor io, gateway_options options,
                                               metrics::registry& metrics);
  ~redis_gateway();

  void start();
  // Answers every outstanding request (not_ready), deletes the reply stream
  // and closes the connections. Blocks until done; call from a thread that
  // is not running the io_context, while it still runs.
  void stop();

  const std::string& id() const { return id_; }
  const std::string& replies_key() const { return replies_key_; }

  // The instances the model's scheduler hands batches to: each holds one
  // batch in flight, so their number bounds the batches outstanding in
  // Redis. Not thread-safe; called while models load.
  std::vector<std::unique_ptr<instance>> make_instances(const config::ModelConfig& config, model_metrics& metrics,
                                                        model_statistics& statistics);

  // What the gateway measures of one worker-pool model's workers, for an
  // autoscaler: live workers (recent heartbeat) and requests in Redis
  // awaiting a reply. The gauges live as long as the metrics registry.
  // nullopt: no such model. Not thread-safe; called after loading.
  struct pool_gauges {
    const metrics::gauge* live_workers{nullptr};
    const metrics::gauge* outstanding{nullptr};
  };
  std::optional<pool_gauges> gauges_of(const std::string& model_name) const;

  // Sends the batch's requests to the model's stream; answers each exactly
  // once (reply, error, deadline) and then calls `done`. Any thread.
  // `metrics` and `statistics` are the batch's model version's.
  void submit(const std::shared_ptr<model>& target, std::vector<request_ptr> batch, instance::done_callback done,
              model_metrics& metrics, model_statistics& statistics);

 private:
  struct batch_tracker;
  // What answering one request sent to a worker pool takes.
  struct pending_request {
    request_ptr request;
    std::shared_ptr<batch_tracker> batch;
    std::shared_ptr<model> target;
  };
  using pending_entry = pending_table<pending_request>::entry;

  redis_gateway(asio::any_io_executor io, gateway_options options, metrics::registry& metrics);

  void admit(const std::shared_ptr<model>& target, std::vector<request_ptr> batch,
             std::shared_ptr<batch_tracker> tracker, bool may_probe);
  asio::awaitable<void> send_entries(std::shared_ptr<model> target, std::vector<redis::command> commands,
                                     std::vector<std::uint64_t> ids);
  asio::awaitable<void> read_replies();
  asio::awaitable<void> watch_model(std::shared_ptr<model> target);
  asio::awaitable<void> probe_workers(std::shared_ptr<model> target);
  void handle_reply(streams::stream_entry entry);
  void answer(pending_entry pending, std::optional<error> failure, std::vector<tensor> outputs = {});
  void finish_untracked(request_ptr request, const std::shared_ptr<batch_tracker>& tracker,
                        std::optional<error> failure);
  void settle(const std::shared_ptr<batch_tracker>& tracker, bool failed);
  void forget_entry(const std::shared_ptr<model>& target, const std::string& entry_id);
  void abandon_outstanding(const std::shared_ptr<model>& target, const std::string& reason);
  // Every coroutine is spawned through here and counted, so stop() can wait
  // for the last one.
  void spawn(asio::awaitable<void> work);
  void on_coroutine_done(bool finished);
  void arm_deadline_timer();
  void on_deadline_timer();

  asio::strand<asio::any_io_executor> strand_;
  gateway_options options_;
  std::string id_;
  std::string replies_key_;
  std::shared_ptr<redis::connection> commands_;
  std::shared_ptr<redis::connection> replies_;
  asio::steady_timer deadline_timer_;
  metrics::counter& late_replies_;
  metrics::registry& metrics_;

  std::vector<std::shared_ptr<model>> known_models_;  // make_instances only (loading thread)

  // strand_ only:
  std::vector<std::shared_ptr<model>> models_;
  pending_table<pending_request> pending_;
  std::optional<clock::time_point> timer_at_;
  std::uint64_t batches_sent_{0};  // the last batch token written
  bool stopped_{false};
  bool started_{false};
  std::size_t running_{0};                // coroutines not finished
  std::promise<void>* drained_{nullptr};  // stop() waits here for running_ == 0
};

}  // namespace surge::gateway
