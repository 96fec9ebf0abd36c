#include "pool/remote_models.hpp"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <random>

#include "upstream/upstream_instance.hpp"


namespace surge::pool {

remote_models::remote_models(boost::asio::any_io_executor io, metrics::registry& metrics,
                             remote_models_options options)
    : io_(std::move(io)), metrics_(metrics), options_(std::move(options)) {}

remote_models::~remote_models() { stop(); }

std::optional<error> remote_models::configure() {
  if (!options_.redis_url.empty()) {
    auto parsed = redis::parse_url(options_.redis_url);
    if (auto* failure = std::get_if<error>(&parsed)) return *failure;
    endpoint_ = std::get<redis::endpoint>(parsed);
  }
  return std::nullopt;
}

remote_model_loader::instance_factory remote_models::instance_factory() {
  return [this](const config::ModelConfig& config, model_version& version) { return make_instances(config, version); };
}

std::optional<error> remote_models::ensure_gateway(bool local_redis_allowed) {
  if (gateway_) return std::nullopt;
  if (!endpoint_) {
    if (!local_redis_allowed) {
      return make_error(error_code::not_ready,
                        "needs --redis URL (or worker_pool.local_workers > 0 to run its workers here)");
    }
    // A redis-server of our own, on loopback, in a directory of our own.
    auto directory = options_.redis_directory;
    if (directory.empty()) {
      std::random_device random;
      directory = std::filesystem::temp_directory_path() /
                  ("surge-redis-" + std::to_string(::getpid()) + "-" + std::to_string(random() & 0xffffff));
      owned_redis_directory_ = directory;
    }
    local_redis_options redis_options;
    redis_options.directory = directory;
    redis_options.log_file = directory / "redis.log";
    auto started = local_redis::start(redis_options);
    if (auto* failure = std::get_if<error>(&started)) {
      return make_error(error_code::not_ready, "cannot start a local redis-server: " + failure->message);
    }
    local_redis_.emplace(std::get<local_redis>(std::move(started)));
    endpoint_ = redis::endpoint{};
    endpoint_->port = local_redis_->port();
    std::cout << "surge: local redis at " << local_redis_->url() << " (" << directory.string() << ")" << std::endl;
  }
  gateway::gateway_options gateway_options;
  gateway_options.redis = *endpoint_;
  gateway_ = gateway::redis_gateway::create(io_, gateway_options, metrics_);
  return std::nullopt;
}

std::variant<std::vector<std::unique_ptr<instance>>, error> remote_models::make_instances(
    const config::ModelConfig& config, model_version& version) {
  if (config.has_upstream()) {
    return upstream::make_upstream_instances(io_, config, version.metrics(), version.statistics());
  }
  if (auto failure = ensure_gateway(config.worker_pool().local_workers() > 0)) return *failure;
  return gateway_->make_instances(config, version.metrics(), version.statistics());
}

void remote_models::start(std::function<std::shared_ptr<const registry_snapshot>()> current) {
  if (!gateway_) return;
  gateway_->start();
  std::cout << "surge: redis gateway " << gateway_->id() << " at " << endpoint_->display() << std::endl;

  workers_ = std::make_unique<supervisor>();
  if (local_redis_) {
    redis_supervisor_ = std::make_unique<supervisor>();
    // Supervised like the workers: restarted on the same port if it dies.
    spawn_options redis_spawn;
    redis_spawn.argv = {local_redis_->options().program,
                        "--port",
                        std::to_string(local_redis_->port()),
                        "--bind",
                        local_redis_->options().host,
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        local_redis_->options().directory.string(),
                        "--protected-mode",
                        "no"};
    redis_spawn.output_file = local_redis_->options().log_file;
    redis_supervisor_->add({"redis-server", redis_spawn}, std::move(local_redis_->process()));
    redis_supervisor_->start();
  }
  const auto url = redis_url();
  const auto models = current();
  for (const auto& [name, model] : models->models) {
    if (!model->config || !model->config->has_worker_pool() || model->versions.empty()) continue;
    const auto count = model->config->worker_pool().local_workers();
    const auto make_worker = [this, url, name = name](std::uint32_t index) {
      const auto worker_name = gateway_->id() + "-" + name + "-" + std::to_string(index);
      spawn_options spawn;
      spawn.argv = {options_.surge_binary.string(), "worker", "--model-repository", options_.model_repository.string(),
                    "--model", name, "--redis", url, "--name", worker_name};
      if (!options_.backend_directory.empty()) {
        spawn.argv.push_back("--backend-directory");
        spawn.argv.push_back(options_.backend_directory.string());
      }
      return supervised_process{"worker " + worker_name, spawn};
    };
    const auto gauges = gateway_->gauges_of(name);
    if (model->config->has_autoscaling() && count > 0 && gauges) {
      if (!autoscaler_) autoscaler_ = worker_autoscaler::create(io_, *workers_, metrics_, current);
      autoscaled_model scaled;
      scaled.name = name;
      scaled.options = autoscaling_options_of(*model->config);
      scaled.interval = evaluation_interval_of(model->config->autoscaling());
      scaled.initial_replicas = count;
      scaled.max_batch_size = static_cast<std::uint32_t>(std::max(0, model->config->max_batch_size()));
      scaled.live_workers = gauges->live_workers;
      scaled.outstanding = gauges->outstanding;
      scaled.make_worker = make_worker;
      autoscaler_->add(std::move(scaled));
      continue;
    }
    for (std::uint32_t i = 0; i < count; ++i) workers_->add(make_worker(i));
  }
  workers_->start();
  if (autoscaler_) autoscaler_->start();
}

std::string remote_models::redis_url() const {
  if (!endpoint_) return {};
  std::string credentials;
  if (!endpoint_->password.empty()) credentials = endpoint_->user + ":" + endpoint_->password + "@";
  const bool ipv6 = endpoint_->host.find(':') != std::string::npos;
  return "redis://" + credentials + (ipv6 ? "[" + endpoint_->host + "]" : endpoint_->host) + ":" +
         std::to_string(endpoint_->port) + "/" + std::to_string(endpoint_->db);
}

void remote_models::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Workers first (they finish and answer their batches), then the
  // gateway, then the redis-server they all talk to.
  if (autoscaler_) autoscaler_->stop();
  if (workers_) workers_->stop();
  if (gateway_) gateway_->stop();
  if (redis_supervisor_) redis_supervisor_->stop();
  if (local_redis_ && local_redis_->process().running()) local_redis_->stop();
  if (!owned_redis_directory_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(owned_redis_directory_, ec);
  }
}

}  // namespace surge::pool
