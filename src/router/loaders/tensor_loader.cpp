#include "router/loaders/tensor_loader.hpp"

#include "backend_loader/backend_instance.hpp"
#include "instance/in_process_instance.hpp"
#include "model/backend_spec.hpp"
#include "router/loaders/open_backend.hpp"
#include "scheduler/model_scheduler.hpp"
#include "sequence/sequence_batcher.hpp"

namespace surge {

std::variant<std::shared_ptr<model_version>, error> tensor_model_loader::load(const config::ModelConfig& config,
                                                                              const load_context& context) {
  auto opened = open_backend(backend_directory_, config, context.model_directory, context.version, context.metrics);
  if (auto* failure = std::get_if<error>(&opened)) return std::move(*failure);
  auto backend = std::get<std::shared_ptr<backend_model>>(std::move(opened));

  if (config.has_sequence_batching() && (backend->capabilities() & SURGE_CAPABILITY_SEQUENCE) == 0 &&
      config.sequence_batching().control_input().empty()) {
    return make_error(error_code::invalid_argument,
                      "sequence_batching: backend '" + config.backend() +
                          "' keeps no state across requests (it does not declare SURGE_CAPABILITY_SEQUENCE) and "
                          "the config declares no control_input to carry the sequence to it");
  }
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
  if (config.has_sequence_batching()) {
    auto batcher = std::make_shared<sequence_batcher>(context.io, config, sequence_slots(config, count),
                                                      std::move(scheduler));
    loaded->start(std::move(batcher), std::move(backend));
    return loaded;
  }
  loaded->start(std::move(scheduler), std::move(backend));
  return loaded;
}

}  // namespace surge
