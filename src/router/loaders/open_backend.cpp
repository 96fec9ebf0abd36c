#include "router/loaders/open_backend.hpp"

#include "model/backend_spec.hpp"

namespace surge {

std::variant<std::shared_ptr<backend_model>, error> open_backend(const std::filesystem::path& backend_directory,
                                                                 const config::ModelConfig& config,
                                                                 const std::filesystem::path& model_directory,
                                                                 std::int64_t version, metrics::registry& metrics) {
  auto library = backend_library::load(backend_directory, config.backend());
  if (auto* failure = std::get_if<error>(&library)) return make_error(failure->code, "backend: " + failure->message);
  auto model = backend_model::create(std::get<std::shared_ptr<backend_library>>(std::move(library)),
                                     backend_spec_from(config, model_directory, version));
  if (auto* created = std::get_if<std::shared_ptr<backend_model>>(&model)) (*created)->publish_statistics(metrics);
  return model;
}

config_completion backend_autocompletion(std::filesystem::path backend_directory) {
  return backend_config_completion(std::move(backend_directory));
}

}  // namespace surge
