#pragma once

#include <filesystem>

#include "router/model_loader.hpp"

namespace surge {

// A generative model (config section `generation`) on a backend plugin with
// the generation functions: one engine per instance_group count behind the
// continuous batcher (sequence_scheduler).
class generation_model_loader final : public model_loader {
 public:
  explicit generation_model_loader(std::filesystem::path backend_directory)
      : backend_directory_(std::move(backend_directory)) {}

  bool handles(const config::ModelConfig& config) const override { return config.has_generation(); }
  std::variant<std::shared_ptr<model_version>, error> load(const config::ModelConfig& config,
                                                           const load_context& context) override;

 private:
  std::filesystem::path backend_directory_;
};

}  // namespace surge
