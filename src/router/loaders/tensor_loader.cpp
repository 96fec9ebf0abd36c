#include "router/loaders/tensor_loader.hpp"

#include "backend_loader/backend_instance.hpp"
#include "instance/in_process_instance.hpp"
#include "model/backend_spec.hpp"
#include "router/loaders/open_backend.hpp"
#include "scheduler/model_scheduler.hpp"

namespace surge {

std::variant<std::shared_ptr<model_version>, error> tensor_model_loader::load(const config::ModelConfig& config,
                                                                              const load_context& context) {
  auto opened = open_backend(backend_directory_, config, context.model_directory, context.version, context.metrics);
  if (auto* failure = std::get_if<error>(&opened)) return std::move(*failure);
  auto backend = std::get<std::shared_ptr<backend_model>>(std::move(opened));

  auto loaded = std::make_shared<model_version>(config, context.version, context.metrics);
  std::vector<std::unique_ptr<instance>> instances;
  const auto count = instance_count(config);
  const auto threading =
      backend->short_execute() ? in_process_instance::threading::caller : in_process_instance::threading::own_thread;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto handle = backend_instance_handle::create(backend, i);
    if (auto* failure = std::get_if<error>(&handle)) {
      for (auto& made : instances) made->stop();
      return make_error(failure->code, "instance " + std::to_string(i) + ": " + failure->message);
    }
    auto shared = std::make_shared<backend_instance_handle>(std::get<backend_instance_handle>(std::move(handle)));
    instances.push_back(std::make_unique<in_process_instance>(
        config.name() + "_" + std::to_string(i),
        [shared](std::vector<request_ptr>& batch, batch_outcome& outcome) { shared->execute(batch, outcome); },
        loaded->metrics(), loaded->statistics(), threading));
  }
  auto scheduler = std::make_shared<model_scheduler>(context.io, loaded->options(), std::move(instances),
                                                     loaded->metrics(), loaded->statistics());
  loaded->start(std::move(scheduler), std::move(backend));
  return loaded;
}

}  // namespace surge
