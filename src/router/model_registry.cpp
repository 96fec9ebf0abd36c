#include "router/model_registry.hpp"

#include "backend_loader/backend_instance.hpp"
#include "config/model_config.hpp"
#include "config/model_repository.hpp"
#include "generation/backend_engine.hpp"
#include "generation/sequence_scheduler.hpp"
#include "instance/in_process_instance.hpp"
#include "model/backend_spec.hpp"

namespace surge {

model_registry::model_registry(boost::asio::any_io_executor io, metrics::registry& metrics,
                               std::filesystem::path backend_directory)
    : io_(std::move(io)), metrics_(metrics), backend_directory_(std::move(backend_directory)) {}

model_registry::~model_registry() { stop_all(); }

std::vector<std::string> model_registry::load_repository(const std::filesystem::path& repository) {
  std::vector<std::string> failures;
  // Keeps the backends it opened for auto-complete loaded until the models hold them.
  const auto completion = backend_config_completion(backend_directory_);
  for (auto& entry : scan_model_repository(repository, completion)) {
    model_state state;
    state.name = entry.name;
    state.config = std::move(entry.config);
    state.error = std::move(entry.error);
    if (state.error.empty()) {
      for (auto version : entry.versions) {
        if (auto failure = load_version(state, entry.directory, version)) {
          state.error = "version " + std::to_string(version) + ": " + *failure;
          state.versions.clear();
          break;
        }
      }
    }
    if (!state.error.empty()) failures.push_back(entry.name + ": " + state.error);
    models_.emplace(state.name, std::move(state));
  }
  return failures;
}

std::optional<std::string> model_registry::load_version(model_state& state,
                                                        const std::filesystem::path& model_directory,
                                                        std::int64_t version) {
  const auto& config = *state.config;
  // Executed elsewhere (Redis workers, an upstream API): no backend here.
  if (config.has_worker_pool() || config.has_upstream()) return load_remote_version(state, version);
  auto library = backend_library::load(backend_directory_, config.backend());
  if (auto* failure = std::get_if<error>(&library)) return "backend: " + failure->message;

  auto model = backend_model::create(std::get<std::shared_ptr<backend_library>>(library),
                                     backend_spec_from(config, model_directory, version));
  if (auto* failure = std::get_if<error>(&model)) return failure->message;
  auto backend = std::get<std::shared_ptr<backend_model>>(std::move(model));
  backend->publish_statistics(metrics_);

  auto loaded = std::make_shared<model_version>(config, version, metrics_);
  if (config.has_generation()) {
    if (auto failure = start_generation(*loaded, backend)) return failure;
    state.versions.emplace(version, std::move(loaded));
    return std::nullopt;
  }
  std::vector<std::unique_ptr<instance>> instances;
  const auto count = instance_count(config);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto handle = backend_instance_handle::create(backend, i);
    if (auto* failure = std::get_if<error>(&handle)) {
      for (auto& made : instances) made->stop();
      return "instance " + std::to_string(i) + ": " + failure->message;
    }
    auto shared = std::make_shared<backend_instance_handle>(std::get<backend_instance_handle>(std::move(handle)));
    instances.push_back(std::make_unique<in_process_instance>(
        config.name() + "_" + std::to_string(i),
        [shared](std::vector<request_ptr>& batch, batch_outcome& outcome) { shared->execute(batch, outcome); },
        loaded->metrics(),
        loaded->statistics()));
  }
  auto scheduler = std::make_shared<model_scheduler>(io_, loaded->options(), std::move(instances), loaded->metrics(),
                                                     loaded->statistics());
  loaded->start(std::move(scheduler), std::move(backend));
  state.versions.emplace(version, std::move(loaded));
  return std::nullopt;
}

std::optional<std::string> model_registry::start_generation(model_version& loaded,
                                                           std::shared_ptr<backend_model> backend) {
  const auto& config = loaded.config();
  auto model = backend_generation_model::create(backend);
  if (auto* failure = std::get_if<error>(&model)) return failure->message;
  std::vector<std::unique_ptr<generation_engine>> engines;
  const auto count = instance_count(config);
  for (std::uint32_t i = 0; i < count; ++i) {
    auto handle = backend_instance_handle::create(backend, i);
    if (auto* failure = std::get_if<error>(&handle)) return "instance " + std::to_string(i) + ": " + failure->message;
    engines.push_back(std::make_unique<backend_generation_engine>(std::get<backend_instance_handle>(std::move(handle))));
  }
  const auto& generation = config.generation();
  sequence_scheduler_options options;
  options.policy.static_batching = generation.batching() == config::ModelGeneration::STATIC;
  options.policy.max_running = generation.max_running_sequences();
  if (generation.max_tokens_per_step() > 0) options.policy.max_tokens_per_step = generation.max_tokens_per_step();
  if (generation.max_queue_size() > 0) options.max_queue_size = generation.max_queue_size();
  options.max_tokens_limit = generation.max_tokens_limit();
  if (generation.default_max_tokens() > 0) options.default_max_tokens = generation.default_max_tokens();
  options.priority_levels = std::max<std::uint32_t>(1, generation.priority_levels());
  options.default_priority_level = generation.default_priority_level();
  auto scheduler = std::make_shared<sequence_scheduler>(
      config.name(), options, std::get<std::shared_ptr<backend_generation_model>>(std::move(model)), std::move(engines),
      loaded.metrics(), loaded.generation(), loaded.statistics());
  loaded.start(std::move(scheduler), std::move(backend));
  return std::nullopt;
}

const model_registry::model_state* model_registry::find(std::string_view name) const {
  const auto it = models_.find(name);
  return it == models_.end() ? nullptr : &it->second;
}

std::shared_ptr<model_version> model_registry::find_version(std::string_view name,
                                                            std::optional<std::int64_t> version) const {
  const auto* state = find(name);
  if (!state || state->versions.empty()) return nullptr;
  if (!version) return state->versions.rbegin()->second;
  const auto it = state->versions.find(*version);
  return it == state->versions.end() ? nullptr : it->second;
}

void model_registry::stop_all() {
  for (auto& [name, state] : models_) {
    for (auto& [version, model] : state.versions) model->stop();
  }
}

}  // namespace surge
