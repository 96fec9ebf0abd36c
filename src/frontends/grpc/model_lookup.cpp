#include "frontends/grpc/model_lookup.hpp"

#include <string>

#include "core/client_text.hpp"
#include "frontends/grpc/infer_codec.hpp"

namespace surge::grpc_frontend {

std::variant<std::shared_ptr<model_version>, error> find_servable_model(const registry_snapshot& models,
                                                                        std::string_view name,
                                                                        std::string_view version,
                                                                        std::string_view routing_key) {
  auto parsed = parse_model_version(version);
  if (auto* failure = std::get_if<error>(&parsed)) return std::move(*failure);
  const auto requested = std::get<std::optional<std::int64_t>>(parsed);

  const auto* state = models.find(name);
  if (!state) return make_error(error_code::not_found, unknown_model_message(name));
  auto model = models.find_version(name, requested, routing_key);
  if (requested && !model && state->error.empty()) {
    return make_error(error_code::not_found,
                      "model '" + client_text(name) + "' has no version " + std::to_string(*requested));
  }
  if (!state->error.empty() || !model) {
    return make_error(error_code::not_ready, "model '" + client_text(name) + "' is not available: " + state->error);
  }
  return model;
}

}  // namespace surge::grpc_frontend
