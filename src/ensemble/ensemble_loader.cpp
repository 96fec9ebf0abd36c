#include "ensemble/ensemble_loader.hpp"

#include "ensemble/ensemble_metrics.hpp"
#include "ensemble/ensemble_plan.hpp"
#include "ensemble/ensemble_scheduler.hpp"

namespace surge::ensemble {

std::vector<std::string> ensemble_loader::dependencies(const config::ModelConfig& config) const {
  return step_models(config);
}

std::variant<std::shared_ptr<model_version>, error> ensemble_loader::load(const config::ModelConfig& config,
                                                                          const load_context& context) {
  const auto& loaded = *context.loaded;
  auto planned = plan_ensemble(config, [&loaded](const std::string& model, std::optional<std::int64_t> version) {
    const auto found = loaded.find_version(model, version);
    return found ? &found->config() : nullptr;
  });
  if (auto* failure = std::get_if<error>(&planned)) return std::move(*failure);
  auto plan = std::make_shared<const ensemble_plan>(std::get<ensemble_plan>(std::move(planned)));

  auto version = std::make_shared<model_version>(config, context.version, context.metrics);
  auto metrics = std::make_shared<ensemble_metrics>(context.metrics, *plan, context.version);
  step_target target = [served = served_](const step_plan& step, request_ptr request) {
    const auto model = served()->find_version(step.model_name, step.model_version);
    if (!model) {
      request->sink->finish(make_error(error_code::not_found,
                                       "model '" + step.model_name +
                                           (step.model_version ? "' version " + std::to_string(*step.model_version)
                                                               : std::string("'")) +
                                           " is not served"));
      return;
    }
    request->version = model->version();
    model->submit(std::move(request));
  };
  version->start(std::make_shared<ensemble_scheduler>(std::move(plan), std::move(target), std::move(metrics)),
                 nullptr);
  return version;
}

}  // namespace surge::ensemble
