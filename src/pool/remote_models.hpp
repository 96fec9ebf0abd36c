#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gateway/redis_gateway.hpp"
#include "metrics/registry.hpp"
#include "pool/local_redis.hpp"
#include "pool/supervisor.hpp"
#include "pool/worker_autoscaler.hpp"
#include "router/loaders/remote_loader.hpp"
#include "router/registry_snapshot.hpp"

namespace surge::pool {

struct remote_models_options {
  // --redis; empty: a local redis-server is started when a worker-pool
  // model asks for local workers.
  std::string redis_url;
  std::filesystem::path model_repository;
  std::filesystem::path backend_directory;
  // The binary local workers run (`<binary> worker ...`).
  std::filesystem::path surge_binary;
  // Where a local redis-server keeps its files; empty: a fresh temporary
  // directory, removed at stop().
  std::filesystem::path redis_directory;
};

// What `surge serve` adds for models that do not run in its own process:
// the Redis Streams gateway for worker_pool models (on --redis, or on a
// local redis-server it starts and supervises), the local worker processes
// (worker_pool.local_workers) it keeps running, and upstream instances.
class remote_models {
 public:
  remote_models(boost::asio::any_io_executor io, metrics::registry& metrics, remote_models_options options);
  ~remote_models();

  // Before anything loads. Fails when --redis is not a valid URL.
  std::optional<error> configure();
  // The instances of worker_pool and upstream models, for the registry's
  // remote_model_loader. Valid while this object is.
  remote_model_loader::instance_factory instance_factory();
  // After loading: starts the gateway and the local workers of the
  // worker_pool models served, and the autoscaler of those with an
  // `autoscaling` block, which reads the models `current` serves.
  void start(std::function<std::shared_ptr<const registry_snapshot>()> current);
  // Stops the local workers (SIGTERM; each finishes its batch), then the
  // gateway (answers what is still outstanding), then a local redis-server.
  void stop();

  // The Redis the gateway uses; empty when no model needed one.
  std::string redis_url() const;

 private:
  std::variant<std::vector<std::unique_ptr<instance>>, error> make_instances(const config::ModelConfig& config,
                                                                            model_version& version);
  std::optional<error> ensure_gateway(bool local_redis_allowed);

  boost::asio::any_io_executor io_;
  metrics::registry& metrics_;
  remote_models_options options_;
  std::optional<redis::endpoint> endpoint_;
  std::optional<local_redis> local_redis_;
  std::filesystem::path owned_redis_directory_;
  std::shared_ptr<gateway::redis_gateway> gateway_;
  std::unique_ptr<supervisor> workers_;
  std::shared_ptr<worker_autoscaler> autoscaler_;
  std::unique_ptr<supervisor> redis_supervisor_;
  bool stopped_{false};
};

}  // namespace surge::pool
