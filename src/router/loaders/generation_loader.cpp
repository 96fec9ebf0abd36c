#include "router/loaders/generation_loader.hpp"

#include <algorithm>

#include "backend_loader/backend_instance.hpp"
#include "generation/backend_engine.hpp"
#include "generation/sequence_scheduler.hpp"
#include "model/backend_spec.hpp"
#include "router/loaders/open_backend.hpp"

namespace surge {

namespace {

sequence_scheduler_options scheduler_options_from(const config::ModelGeneration& generation) {
  sequence_scheduler_options options;
  options.policy.static_batching = generation.batching() == config::ModelGeneration::STATIC;
  options.policy.max_running = generation.max_running_sequences();
  if (generation.max_tokens_per_step() > 0) options.policy.max_tokens_per_step = generation.max_tokens_per_step();
  if (generation.max_queue_size() > 0) options.max_queue_size = generation.max_queue_size();
  options.max_tokens_limit = generation.max_tokens_limit();
  if (generation.default_max_tokens() > 0) options.default_max_tokens = generation.default_max_tokens();
  options.priority_levels = std::max<std::uint32_t>(1, generation.priority_levels());
  options.default_priority_level = generation.default_priority_level();
  return options;
}

}  // namespace

std::variant<std::shared_ptr<model_version>, error> generation_model_loader::load(const config::ModelConfig& config,
                                                                                  const load_context& context) {
  auto opened = open_backend(backend_directory_, config, context.model_directory, context.version, context.metrics);
  if (auto* failure = std::get_if<error>(&opened)) return std::move(*failure);
  auto backend = std::get<std::shared_ptr<backend_model>>(std::move(opened));

  auto model = backend_generation_model::create(backend);
  if (auto* failure = std::get_if<error>(&model)) return std::move(*failure);
  std::vector<std::unique_ptr<generation_engine>> engines;
  const auto count = instance_count(config);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto handle = backend_instance_handle::create(backend, i);
    if (auto* failure = std::get_if<error>(&handle)) {
      return make_error(failure->code, "instance " + std::to_string(i) + ": " + failure->message);
    }
    engines.push_back(
        std::make_unique<backend_generation_engine>(std::get<backend_instance_handle>(std::move(handle))));
  }
  auto loaded = std::make_shared<model_version>(config, context.version, context.metrics);
  loaded->set_context_tokens(std::get<std::shared_ptr<backend_generation_model>>(model)->limits().max_context);
  auto scheduler = std::make_shared<sequence_scheduler>(
      config.name(), scheduler_options_from(config.generation()),
      std::get<std::shared_ptr<backend_generation_model>>(std::move(model)), std::move(engines), loaded->metrics(),
      loaded->generation(), loaded->statistics());
  loaded->start(std::move(scheduler), std::move(backend));
  return loaded;
}

}  // namespace surge
