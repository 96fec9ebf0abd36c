#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autoscale/load_meter.hpp"
#include "autoscale/replica_policy.hpp"
#include "config/model_config.pb.h"
#include "metrics/registry.hpp"
#include "pool/supervisor.hpp"
#include "router/registry_snapshot.hpp"

namespace surge::pool {

// The options config.pbtxt's `autoscaling { }` block gives, its zeros
// replaced by the defaults (docs/autoscaling.md).
autoscale::autoscaling_options autoscaling_options_of(const config::ModelConfig& config);
std::chrono::milliseconds evaluation_interval_of(const config::ModelAutoscaling& scaling);

// One worker-pool model whose local workers are scaled.
struct autoscaled_model {
  std::string name;
  autoscale::autoscaling_options options;
  std::chrono::milliseconds interval{15000};
  std::uint32_t initial_replicas{1};
  std::uint32_t max_batch_size{0};  // the config's; 0: the model does not batch
  const metrics::gauge* live_workers{nullptr};  // the gateway's, heartbeating workers
  const metrics::gauge* outstanding{nullptr};   // the gateway's, requests in Redis
  // The worker process to start as replica number `index` (unique per model).
  std::function<supervised_process(std::uint32_t index)> make_worker;
};

// The driver of autoscale::replica_policy for `surge serve`'s local
// workers: every evaluation interval it reads the model's metrics (every
// version summed) and the gateway's worker counts, asks the policy, and
// launches or retires workers through the supervisor. A retired worker gets
// SIGTERM and finishes its batch; entries it had read and not answered are
// claimed by the others (docs/redis-streams.md), so nothing is lost.
// Everything runs on one strand of the I/O executor; an evaluation reads
// atomics and does arithmetic, and the supervisor spawns on its own thread.
class worker_autoscaler : public std::enable_shared_from_this<worker_autoscaler> {
 public:
  using snapshot_source = std::function<std::shared_ptr<const registry_snapshot>()>;

  static std::shared_ptr<worker_autoscaler> create(boost::asio::any_io_executor io, supervisor& workers,
                                                   metrics::registry& metrics, snapshot_source snapshot);
  ~worker_autoscaler();

  // Before start(). Starts the model's initial replicas at start().
  void add(autoscaled_model model);
  void start();
  // Stops evaluating; the workers stay (the supervisor stops them). Blocks
  // until no evaluation runs; call from a thread that is not running the
  // I/O executor, while it still runs.
  void stop();

 private:
  struct scaled;

  worker_autoscaler(boost::asio::any_io_executor io, supervisor& workers, metrics::registry& metrics,
                    snapshot_source snapshot);
  void arm(const std::shared_ptr<scaled>& model);
  void evaluate(scaled& model);
  autoscale::load_reading read(const scaled& model) const;
  void resize(scaled& model, std::uint32_t replicas);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  supervisor& workers_;
  metrics::registry& metrics_;
  snapshot_source snapshot_;
  std::vector<std::shared_ptr<scaled>> models_;  // strand_ once started
  bool stopped_{false};                          // strand_
};

}  // namespace surge::pool
