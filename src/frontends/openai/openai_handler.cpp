#include "frontends/openai/openai_handler.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <random>

#include "core/client_text.hpp"
#include "frontends/http/generation_stream.hpp"
#include "frontends/http/sse_writer.hpp"
#include "frontends/openai/openai_codec.hpp"
#include "frontends/openai/openai_limits.hpp"

namespace surge::openai {

namespace asio = boost::asio;
namespace beast_http = boost::beast::http;
using http::handler_result;
using http::response_message;

namespace {

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

response_message error_reply(beast_http::status status, std::string_view message, std::string_view type,
                             std::string_view param, std::string_view code, unsigned version) {
  return http::json_response(status, error_json(message, type, param, code), version, true);
}

response_message failure_reply(const error& e, unsigned version) {
  const auto [type, code] = error_type_of(e.code);
  return http::failure_response(e, error_json(e.message, type, "", code), version);
}

}  // namespace

openai_handler::openai_handler(const model_registry& models)
    : models_(models), started_(unix_seconds()), id_base_(std::random_device{}()) {}

std::string openai_handler::next_id(bool chat) {
  char id[48];
  std::snprintf(id, sizeof id, "%s-%08llx%08llx", chat ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(id_base_ & 0xffffffffu),
                static_cast<unsigned long long>(next_.fetch_add(1, std::memory_order_relaxed)));
  return id;
}

http::header_verdict openai_handler::screen(const http::request_header& header) {
  std::string_view target = header.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target != "/v1/completions" && target != "/v1/chat/completions") return {};
  std::uint32_t context = 0;
  const auto snapshot = models_.snapshot();
  for (const auto& [name, state] : snapshot->models) {
    for (const auto& [number, model] : state->versions) {
      if (!model->generative()) continue;
      // A model whose context is not known here (a worker pool's) leaves the
      // server's own limit in force.
      if (model->context_tokens() == 0) return {};
      context = std::max(context, model->context_tokens());
    }
  }
  const auto limit = completion_body_limit(context);
  const auto too_large = [&](std::string_view length) {
    return error_reply(beast_http::status::payload_too_large,
                       "request body of " + std::string(length) + " bytes exceeds " + std::to_string(limit) +
                           " bytes, more than a prompt for the largest context served (" + std::to_string(context) +
                           " tokens) can need",
                       "invalid_request_error", "", "context_length_exceeded", header.version());
  };
  http::header_verdict verdict;
  verdict.body_limit_bytes = limit;
  verdict.over_body_limit = too_large("more than " + std::to_string(limit));
  if (auto field = header.find(beast_http::field::content_length); field != header.end()) {
    const auto text = field->value();
    std::uint64_t length = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
    if (ec == std::errc{} && end == text.data() + text.size() && length > limit) {
      verdict.refusal = too_large(std::to_string(length));
    }
  }
  return verdict;
}

asio::awaitable<handler_result> openai_handler::handle(http::request_message& request, http::connection_stream& stream) {
  std::string_view target = request.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const auto version = request.version();
  const bool is_get = request.method() == beast_http::verb::get;
  const bool is_post = request.method() == beast_http::verb::post;

  if (target == "/v1/models" || target.starts_with("/v1/models/")) {
    if (!is_get) co_return error_reply(beast_http::status::method_not_allowed, "use GET", "invalid_request_error", "", "", version);
    std::vector<std::string> names;
    const auto snapshot = models_.snapshot();
    for (const auto& [name, state] : snapshot->models) {
      auto model = snapshot->find_version(name, std::nullopt);
      if (model && model->generative()) names.push_back(name);
    }
    if (target == "/v1/models") co_return http::json_response(beast_http::status::ok, models_json(names, started_), version, true);
    const auto id = target.substr(std::string_view("/v1/models/").size());
    for (const auto& name : names) {
      if (name != id) continue;
      auto body = models_json({name}, started_);
      // The list's single entry is the model object.
      const auto open = body.find('[');
      const auto close = body.rfind(']');
      co_return http::json_response(beast_http::status::ok, body.substr(open + 1, close - open - 1), version, true);
    }
    co_return error_reply(beast_http::status::not_found, "The model '" + client_text(id) + "' does not exist",
                          "invalid_request_error", "model", "model_not_found", version);
  }
  if (target == "/v1/completions" || target == "/v1/chat/completions") {
    if (!is_post) co_return error_reply(beast_http::status::method_not_allowed, "use POST", "invalid_request_error", "", "", version);
    co_return co_await complete(request, stream, target == "/v1/chat/completions");
  }
  co_return error_reply(beast_http::status::not_found, "no route for " + client_text(target), "invalid_request_error",
                        "", "", version);
}

asio::awaitable<handler_result> openai_handler::complete(http::request_message& request,
                                                        http::connection_stream& stream, bool chat) {
  const auto version = request.version();
  auto parsed = parse_request(chat ? endpoint::chat_completions : endpoint::completions, request.body());
  if (auto* problem = std::get_if<request_error>(&parsed)) {
    if (!problem->model.empty()) {
      if (auto named = models_.find_version(problem->model, std::nullopt)) named->metrics().count(request_outcome::invalid);
    }
    co_return error_reply(beast_http::status::bad_request, problem->message, "invalid_request_error", problem->param, "",
                          version);
  }
  auto& body = std::get<parsed_request>(parsed);
  auto model = models_.find_version(body.model, std::nullopt);
  if (!model || !model->generative()) {
    co_return error_reply(beast_http::status::not_found,
                          "The model '" + client_text(body.model) + "' does not exist" +
                              (model ? " as a text-generation model" : ""),
                          "invalid_request_error", "model", "model_not_found", version);
  }

  // Refused before it reaches the tokenizer: this many bytes cannot fit.
  const auto prompt_bytes = body.generation.prompt.size();
  if (model->context_tokens() > 0 && prompt_bytes > max_prompt_bytes(model->context_tokens())) {
    model->metrics().count(request_outcome::invalid);
    co_return error_reply(beast_http::status::bad_request,
                          "prompt is " + std::to_string(prompt_bytes) + " bytes; model '" + model->name() +
                              "' has a context of " + std::to_string(model->context_tokens()) +
                              " tokens, which holds at most " +
                              std::to_string(max_prompt_bytes(model->context_tokens())) + " bytes of text",
                          "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded", version);
  }

  const response_context context{chat ? endpoint::chat_completions : endpoint::completions, next_id(chat),
                                 unix_seconds(), body.model};
  auto inference = std::make_unique<inference_request>();
  inference->id = context.id;
  inference->model = model->name();
  inference->version = model->version();
  inference->priority = body.priority;
  inference->generation = std::move(body.generation);
  if (auto trace = request.find("traceparent"); trace != request.end()) inference->traceparent = std::string(trace->value());

  std::string text;
  std::optional<std::string> finish_reason;
  usage counts;
  std::optional<http::sse_writer> events;
  bool first_chunk = true;
  auto outcome = co_await http::run_generation(
      stream, *model, std::move(inference), [&](std::vector<generation_chunk>& chunks) -> asio::awaitable<bool> {
        for (const auto& chunk : chunks) {
          counts = {chunk.prompt_tokens, chunk.completion_tokens};
          if (chunk.finish_reason) finish_reason = chunk.finish_reason;
          if (!body.stream) text += chunk.text;
        }
        if (!body.stream) co_return true;
        if (!events) {
          events.emplace(stream, version);
          if (!co_await events->start()) co_return false;
          if (chat) {
            // As OpenAI streams: the role first, with empty content.
            events->add(chunk_json(context, "", std::nullopt, true));
            first_chunk = false;
          }
        }
        for (const auto& chunk : chunks) {
          events->add(chunk_json(context, chunk.text, chunk.finish_reason, first_chunk));
          first_chunk = false;
        }
        co_return co_await events->flush();
      });
  if (outcome.client_gone) co_return std::nullopt;

  if (!body.stream) {
    if (outcome.failure) co_return failure_reply(*outcome.failure, version);
    co_return http::json_response(beast_http::status::ok, completion_json(context, text, finish_reason, counts), version,
                                  true);
  }
  if (!events) {
    // Nothing was streamed yet, so the failure can still be a proper status.
    if (outcome.failure) co_return failure_reply(*outcome.failure, version);
    events.emplace(stream, version);
    if (!co_await events->start()) co_return std::nullopt;
  }
  if (outcome.failure) {
    const auto [type, code] = error_type_of(outcome.failure->code);
    events->add(error_json(outcome.failure->message, type, "", code));
  } else if (body.include_usage) {
    events->add(usage_chunk_json(context, counts));
  }
  events->add("[DONE]");
  if (!co_await events->finish()) co_return std::nullopt;
  co_return handler_result::streamed_response(events->keep_alive());
}

}  // namespace surge::openai
