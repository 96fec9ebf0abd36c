#pragma once

#include <memory>
#include <string_view>
#include <variant>

#include "core/status.hpp"
#include <grpcpp/support/string_ref.h>

#include "router/model_registry.hpp"

namespace surge::grpc_frontend {

// The servable model a request names, or why there is none, with the same
// answers the HTTP frontend gives: an unknown model or version is
// not_found, a malformed version invalid_argument, and a model that failed
// to load not_ready with its reason. No version: the model's traffic split
// picks one, by `routing_key` when there is one (docs/traffic.md).
std::variant<std::shared_ptr<model_version>, error> find_servable_model(const registry_snapshot& models,
                                                                        std::string_view name,
                                                                        std::string_view version,
                                                                        std::string_view routing_key = {});
// The same in the registry's current snapshot.
inline std::variant<std::shared_ptr<model_version>, error> find_servable_model(const model_registry& models,
                                                                               std::string_view name,
                                                                               std::string_view version,
                                                                               std::string_view routing_key = {}) {
  return find_servable_model(*models.snapshot(), name, version, routing_key);
}

// The metadata key whose value keeps a client on one version of a split
// model (the HTTP header of the same name).
inline constexpr std::string_view routing_key_metadata = "x-surge-routing-key";

// Its value in a call's metadata; empty when absent.
template <typename Context>
std::string_view routing_key_of(const Context& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find(grpc::string_ref(routing_key_metadata.data(), routing_key_metadata.size()));
  return it == metadata.end() ? std::string_view{} : std::string_view(it->second.data(), it->second.size());
}

}  // namespace surge::grpc_frontend
