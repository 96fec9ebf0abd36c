#pragma once

#include <memory>
#include <string_view>
#include <variant>

#include "core/status.hpp"
#include "router/model_registry.hpp"

namespace surge::grpc_frontend {

// The servable model a request names, or why there is none, with the same
// answers the HTTP frontend gives: an unknown model or version is
// not_found, a malformed version invalid_argument, and a model that failed
// to load not_ready with its reason.
std::variant<std::shared_ptr<model_version>, error> find_servable_model(const registry_snapshot& models,
                                                                        std::string_view name,
                                                                        std::string_view version);
// The same in the registry's current snapshot.
inline std::variant<std::shared_ptr<model_version>, error> find_servable_model(const model_registry& models,
                                                                               std::string_view name,
                                                                               std::string_view version) {
  return find_servable_model(*models.snapshot(), name, version);
}

}  // namespace surge::grpc_frontend
