#include "frontends/http/repository_control.hpp"

#include <rapidjson/document.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>

#include "config/model_config.hpp"
#include "core/client_text.hpp"

namespace surge::http {

namespace {

// Runs `start` (which hands its callback to the registry) and resumes the
// coroutine on its own executor with the outcome.
asio::awaitable<std::optional<error>> on_loader(std::function<void(std::function<void(std::optional<error>)>)> start) {
  auto executor = co_await asio::this_coro::executor;
  auto initiation = [start = std::move(start), executor](auto handler) mutable {
    auto held = std::make_shared<decltype(handler)>(std::move(handler));
    start([held, executor](std::optional<error> outcome) {
      asio::post(executor, [held, outcome = std::move(outcome)]() mutable { (*held)(std::move(outcome)); });
    });
  };
  auto outcome = co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<error>)>(
      std::move(initiation), asio::use_awaitable);
  co_return outcome;
}

}  // namespace

std::variant<std::optional<config::ModelConfig>, error> load_config_override(std::string_view body) {
  if (body.empty()) return std::optional<config::ModelConfig>{};
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) {
    return make_error(error_code::invalid_argument, "the load request's body is not a JSON object");
  }
  if (!document.HasMember("parameters")) return std::optional<config::ModelConfig>{};
  const auto& parameters = document["parameters"];
  if (!parameters.IsObject()) return make_error(error_code::invalid_argument, "\"parameters\" must be an object");
  if (!parameters.HasMember("config")) return std::optional<config::ModelConfig>{};
  const auto& text = parameters["config"];
  if (!text.IsString()) {
    return make_error(error_code::invalid_argument, "parameters.config must be a string holding the model config as JSON");
  }
  auto parsed = parse_model_config_json(std::string_view(text.GetString(), text.GetStringLength()), "parameters.config");
  if (!parsed.config) return make_error(error_code::invalid_argument, client_text(parsed.error));
  return std::optional<config::ModelConfig>(std::move(*parsed.config));
}

asio::awaitable<response_message> control_repository(const repository_control& control, std::string model,
                                                     std::string_view action, request_message& request,
                                                     std::optional<std::int64_t> unload_version) {
  const auto version = request.version();
  std::optional<error> outcome;
  if (action == "load") {
    auto parsed = load_config_override(request.body());
    if (auto* failure = std::get_if<error>(&parsed)) co_return error_response(status_for(failure->code), failure->message, version, true);
    auto override = std::get<std::optional<config::ModelConfig>>(std::move(parsed));
    if (override && !override->name().empty() && override->name() != model) {
      co_return error_response(beast::http::status::bad_request,
                               "parameters.config: name \"" + client_text(override->name()) +
                                   "\" is not the model loaded, \"" + client_text(model) + "\"",
                               version, true);
    }
    // Named, not a temporary of the co_await expression: GCC 12 destroys
    // such temporaries' captures twice.
    std::function<void(std::function<void(std::optional<error>)>)> start =
        [&control, model, override = std::move(override)](std::function<void(std::optional<error>)> done) mutable {
          control.models.load_model_async(control.repository, model, std::move(override), std::move(done));
        };
    outcome = co_await on_loader(std::move(start));
  } else {
    std::function<void(std::function<void(std::optional<error>)>)> start =
        [&control, model, unload_version](std::function<void(std::optional<error>)> done) {
          control.models.unload_async(model, unload_version, std::move(done));
        };
    outcome = co_await on_loader(std::move(start));
  }
  if (outcome) co_return error_response(status_for(outcome->code), client_text(outcome->message), version, true);
  co_return json_response(beast::http::status::ok, "{}", version, true);
}

}  // namespace surge::http
