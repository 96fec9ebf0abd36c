#pragma once

#include <functional>
#include <memory>
#include <variant>
#include <vector>

#include "instance/instance.hpp"
#include "router/model_loader.hpp"

namespace surge {

// A model whose batches run outside this process: a worker pool reached
// through Redis Streams, or an upstream HTTP API (a worker_pool or upstream
// section in its config). The scheduler is the same; only the instances
// differ, and no backend is loaded here. The instances come from `make`,
// which `surge serve` provides (pool::remote_models).
class remote_model_loader final : public model_loader {
 public:
  using instance_factory = std::function<std::variant<std::vector<std::unique_ptr<instance>>, error>(
      const config::ModelConfig& config, model_version& version)>;

  explicit remote_model_loader(instance_factory make) : make_(std::move(make)) {}

  bool handles(const config::ModelConfig& config) const override {
    return config.has_worker_pool() || config.has_upstream();
  }
  std::variant<std::shared_ptr<model_version>, error> load(const config::ModelConfig& config,
                                                           const load_context& context) override;

 private:
  instance_factory make_;
};

}  // namespace surge
