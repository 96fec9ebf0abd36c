#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "frontends/http/http_server.hpp"
#include "router/model_registry.hpp"

namespace surge::http {

// The header whose value keeps a client on one version of a split model.
inline constexpr std::string_view routing_key_header = "x-surge-routing-key";

// /v2/models/{model}/traffic (docs/traffic.md): GET the split of the
// requests that name no version, POST {"versions": {"1": 90, "2": 10}} to
// set it, DELETE to send them to the highest version again. `parts` is the
// path split at '/' (parts[0] == "v2"); nullopt when the path is another.
std::optional<response_message> serve_traffic(const std::vector<std::string_view>& parts,
                                              const request_message& request, model_registry& models);

}  // namespace surge::http
