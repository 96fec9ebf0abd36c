#pragma once

#include <filesystem>

#include "router/model_loader.hpp"

namespace surge {

// A model whose batches run in this process on a backend plugin: one
// in_process_instance per instance_group count, behind the dynamic batcher.
// The general kind: added after the more specific ones. A config that
// generates text, runs elsewhere (generation, worker_pool, upstream) or runs
// other models (platform "ensemble" or "features") is never loaded this way, even when its
// own loader is missing.
class tensor_model_loader final : public model_loader {
 public:
  explicit tensor_model_loader(std::filesystem::path backend_directory)
      : backend_directory_(std::move(backend_directory)) {}

  bool handles(const config::ModelConfig& config) const override {
    return !config.has_generation() && !config.has_worker_pool() && !config.has_upstream() &&
           config.platform() != "ensemble" && config.platform() != "features";
  }
  std::variant<std::shared_ptr<model_version>, error> load(const config::ModelConfig& config,
                                                           const load_context& context) override;

 private:
  std::filesystem::path backend_directory_;
};

}  // namespace surge
