#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/model_config.pb.h"
#include "core/status.hpp"
#include "frontends/http/http_server.hpp"
#include "router/model_registry.hpp"

namespace surge::http {

// Triton's model repository extension, explicit mode: load (optionally with
// a config in the body) and unload one model at run time. The registry does
// the work on its loader thread; the connection's coroutine waits for it
// without blocking its I/O thread.
struct repository_control {
  model_registry& models;
  std::filesystem::path repository;
};

// POST /v2/repository/models/{model}/load and .../unload; with
// `unload_version`, .../versions/{v}/unload takes that version alone out
// of service.
asio::awaitable<response_message> control_repository(const repository_control& control, std::string model,
                                                     std::string_view action, request_message& request,
                                                     std::optional<std::int64_t> unload_version = std::nullopt);

// The `parameters.config` of a load request's body (a model config as
// JSON, Triton's form), nullopt when the body has none; the error names
// what is wrong.
std::variant<std::optional<config::ModelConfig>, error> load_config_override(std::string_view body);

}  // namespace surge::http
