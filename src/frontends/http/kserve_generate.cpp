#include "frontends/http/kserve_generate.hpp"

#include "frontends/http/request_checks.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "frontends/http/generation_stream.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"
#include "frontends/http/sse_writer.hpp"
#include "frontends/sampling_json.hpp"

namespace surge::http {

namespace beast_http = beast::http;

namespace {

std::string chunk_json(const model_version& model, std::string_view id, std::string_view text,
                       const std::optional<std::string>& finish_reason) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  if (!id.empty()) {
    w.Key("id");
    w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
  }
  w.Key("model_name");
  w.String(model.name().c_str());
  w.Key("model_version");
  w.String(std::to_string(model.version()).c_str());
  w.Key("text_output");
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  if (finish_reason) {
    w.Key("finish_reason");
    w.String(finish_reason->c_str());
  }
  w.EndObject();
  return buffer.GetString();
}

response_message failure(const error& e, unsigned version) {
  return failure_response(e, wire::encode_error(e.message), version);
}

}  // namespace

asio::awaitable<handler_result> kserve_generate(request_message& request, connection_stream& stream,
                                                std::shared_ptr<model_version> model, bool streaming) {
  const auto version = request.version();
  const auto bad = [&](std::string message) {
    model->metrics().count(request_outcome::invalid);
    return failure(make_error(error_code::invalid_argument, std::move(message)), version);
  };
  if (request.method() != beast_http::verb::post) {
    co_return method_not_allowed(request, "POST");
  }
  if (!model->generative()) co_return bad("model '" + model->name() + "' does not generate text");

  rapidjson::Document body;
  // Iterative: nested brackets must not exhaust the stack (see openai_codec.cpp).
  body.Parse<rapidjson::kParseIterativeFlag>(request.body().data(), request.body().size());
  if (body.HasParseError() || !body.IsObject()) co_return bad("request body is not a JSON object");
  const auto text = body.FindMember("text_input");
  if (text == body.MemberEnd() || !text->value.IsString()) co_return bad("'text_input' must be a string");

  auto inference = std::make_unique<inference_request>();
  inference->model = model->name();
  inference->version = model->version();
  generation_options options;
  options.prompt.assign(text->value.GetString(), text->value.GetStringLength());
  if (auto problem = read_sampling_parameters(body, options.sampling)) co_return bad(*problem);
  if (const auto parameters = body.FindMember("parameters"); parameters != body.MemberEnd()) {
    if (!parameters->value.IsObject()) co_return bad("'parameters' must be an object");
    if (auto problem = read_sampling_parameters(parameters->value, options.sampling)) co_return bad(*problem);
    if (const auto p = parameters->value.FindMember("priority"); p != parameters->value.MemberEnd()) {
      if (!p->value.IsUint()) co_return bad("'priority' must be a non-negative integer");
      inference->priority = p->value.GetUint();
    }
  }
  if (const auto id = body.FindMember("id"); id != body.MemberEnd() && id->value.IsString()) {
    inference->id = id->value.GetString();
  }
  inference->generation = std::move(options);
  if (auto trace = request.find("traceparent"); trace != request.end()) inference->traceparent = std::string(trace->value());
  const std::string id = inference->id;

  std::string collected;
  std::optional<std::string> finish_reason;
  std::optional<sse_writer> events;
  auto outcome = co_await run_generation(
      stream, *model, std::move(inference),
      [&](std::vector<generation_chunk>& chunks) -> asio::awaitable<bool> {
        for (auto& chunk : chunks) {
          if (chunk.finish_reason) finish_reason = chunk.finish_reason;
          if (!streaming) collected += chunk.text;
        }
        if (!streaming) co_return true;
        if (!events) {
          events.emplace(stream, version);
          if (!co_await events->start()) co_return false;
        }
        for (auto& chunk : chunks) events->add(chunk_json(*model, id, chunk.text, chunk.finish_reason));
        co_return co_await events->flush();
      });
  if (outcome.client_gone) co_return std::nullopt;
  if (!events) {
    if (outcome.failure) co_return failure(*outcome.failure, version);
    if (streaming) {  // finished without a single chunk
      events.emplace(stream, version);
      if (!co_await events->start()) co_return std::nullopt;
    } else {
      co_return json_response(beast_http::status::ok, chunk_json(*model, id, collected, finish_reason), version, true);
    }
  }
  if (outcome.failure) events->add(wire::encode_error(outcome.failure->message));
  if (!co_await events->finish()) co_return std::nullopt;
  co_return handler_result::streamed_response(events->keep_alive());
}

}  // namespace surge::http
