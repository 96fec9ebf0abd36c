#pragma once

#include <functional>
#include <memory>

#include "router/model_loader.hpp"
#include "router/registry_snapshot.hpp"

namespace surge::ensemble {

// What is served now, read when a step runs (model_registry::snapshot).
using snapshot_source = std::function<std::shared_ptr<const registry_snapshot>()>;

// Models with platform "ensemble": checked against their step models as
// served when they load (the registry loads those first: dependencies()),
// and run by an ensemble_scheduler whose steps go to whatever version of
// each step model is served when the step runs.
class ensemble_loader final : public model_loader {
 public:
  explicit ensemble_loader(snapshot_source served) : served_(std::move(served)) {}

  bool handles(const config::ModelConfig& config) const override { return config.platform() == "ensemble"; }
  std::vector<std::string> dependencies(const config::ModelConfig& config) const override;
  std::variant<std::shared_ptr<model_version>, error> load(const config::ModelConfig& config,
                                                           const load_context& context) override;

 private:
  snapshot_source served_;
};

}  // namespace surge::ensemble
