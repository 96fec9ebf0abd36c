#include "router/loaders/remote_loader.hpp"

#include "scheduler/model_scheduler.hpp"

namespace surge {

std::variant<std::shared_ptr<model_version>, error> remote_model_loader::load(const config::ModelConfig& config,
                                                                              const load_context& context) {
  const std::string kind = config.has_worker_pool() ? "worker_pool" : "upstream";
  auto loaded = std::make_shared<model_version>(config, context.version, context.metrics);
  auto made = make_(config, *loaded);
  if (auto* failure = std::get_if<error>(&made)) return make_error(failure->code, kind + ": " + failure->message);
  auto scheduler =
      std::make_shared<model_scheduler>(context.io, loaded->options(),
                                        std::get<std::vector<std::unique_ptr<instance>>>(std::move(made)),
                                        loaded->metrics(), loaded->statistics());
  loaded->start(std::move(scheduler), nullptr);
  return loaded;
}

}  // namespace surge
