#pragma once

#include <chrono>
#include <optional>

#include "features/features_scheduler.hpp"
#include "redis/url.hpp"
#include "router/model_loader.hpp"

namespace surge::features {

// Models with platform "features" (docs/features.md). Loading one reads its
// event stream to the end before the version is published, so a model that
// reports ready has its windows rebuilt; the scoring model loads first
// (dependencies()) and its input is checked against the vector. Without a
// Redis (`--redis`) such a model fails to load, naming the flag.
class features_loader final : public model_loader {
 public:
  features_loader(std::optional<redis::endpoint> redis, snapshot_source served,
                  std::chrono::milliseconds catch_up_timeout = std::chrono::seconds(120))
      : redis_(std::move(redis)), served_(std::move(served)), catch_up_timeout_(catch_up_timeout) {}

  bool handles(const config::ModelConfig& config) const override { return config.platform() == "features"; }
  std::vector<std::string> dependencies(const config::ModelConfig& config) const override {
    return {config.features().model()};
  }
  std::variant<std::shared_ptr<model_version>, error> load(const config::ModelConfig& config,
                                                           const load_context& context) override;

 private:
  std::optional<redis::endpoint> redis_;
  snapshot_source served_;
  std::chrono::milliseconds catch_up_timeout_;
};

}  // namespace surge::features
