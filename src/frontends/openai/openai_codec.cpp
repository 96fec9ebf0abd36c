#include "frontends/openai/openai_codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/client_text.hpp"
#include "frontends/sampling_json.hpp"

namespace surge::openai {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write(json_writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

const rapidjson::Value* field(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

// The text of a message's content: a string, or an array of {"type":"text","text":...} parts.
std::optional<std::string> content_text(const rapidjson::Value& content) {
  if (content.IsString()) return std::string(content.GetString(), content.GetStringLength());
  if (!content.IsArray()) return std::nullopt;
  std::string text;
  for (const auto& part : content.GetArray()) {
    if (!part.IsObject()) return std::nullopt;
    const auto* type = field(part, "type");
    const auto* value = field(part, "text");
    if (!type || !type->IsString() || std::string_view(type->GetString()) != "text" || !value || !value->IsString()) {
      return std::nullopt;
    }
    text.append(value->GetString(), value->GetStringLength());
  }
  return text;
}

// Every field of OpenAI's request bodies (and the surge extensions top_k,
// ignore_eos and priority): anything else is refused by name. Fields in
// ignored_fields are accepted and do nothing (docs/generation.md).
constexpr std::string_view completion_fields[] = {
    "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "n",
    "presence_penalty", "seed", "stop", "stream", "stream_options", "suffix", "temperature", "top_p", "user",
    "top_k", "ignore_eos", "priority"};
constexpr std::string_view chat_fields[] = {
    "model", "messages", "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "metadata", "modalities", "n", "parallel_tool_calls", "prediction",
    "presence_penalty", "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
    "top_logprobs", "top_p", "user", "verbosity", "web_search_options", "top_k", "ignore_eos", "priority"};

std::optional<request_error> refuse_unknown(endpoint kind, const rapidjson::Value& body) {
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    bool known = false;
    if (kind == endpoint::completions) {
      for (const auto f : completion_fields) known = known || f == name;
    } else {
      for (const auto f : chat_fields) known = known || f == name;
    }
    if (!known) {
      const auto quoted = client_text(name);
      return request_error{"unrecognized request argument supplied: '" + quoted + "' is not a field of the OpenAI " +
                               (kind == endpoint::completions ? "completions" : "chat completions") + " API",
                           quoted};
    }
  }
  return std::nullopt;
}

std::optional<request_error> refuse_unsupported(const rapidjson::Value& body) {
  if (const auto* n = field(body, "n"); n && !(n->IsUint() && n->GetUint() == 1)) {
    return request_error{"only n = 1 is supported", "n"};
  }
  if (const auto* b = field(body, "best_of"); b && !(b->IsUint() && b->GetUint() == 1)) {
    return request_error{"only best_of = 1 is supported", "best_of"};
  }
  if (const auto* l = field(body, "logprobs"); l && !(l->IsBool() && !l->GetBool())) {
    return request_error{"logprobs are not supported", "logprobs"};
  }
  if (const auto* e = field(body, "echo"); e && !(e->IsBool() && !e->GetBool())) {
    return request_error{"echo is not supported", "echo"};
  }
  for (const char* penalty : {"presence_penalty", "frequency_penalty"}) {
    if (const auto* p = field(body, penalty); p && !(p->IsNumber() && p->GetDouble() == 0.0)) {
      return request_error{std::string(penalty) + " is not supported (only 0)", penalty};
    }
  }
  if (const auto* b = field(body, "logit_bias"); b && !(b->IsObject() && b->MemberCount() == 0)) {
    return request_error{"logit_bias is not supported", "logit_bias"};
  }
  if (const auto* t = field(body, "top_logprobs"); t && !(t->IsUint() && t->GetUint() == 0)) {
    return request_error{"top_logprobs are not supported", "top_logprobs"};
  }
  for (const char* name : {"tools", "functions", "function_call", "response_format", "suffix", "audio", "prediction",
                           "web_search_options"}) {
    if (field(body, name)) return request_error{std::string(name) + " is not supported", name};
  }
  return std::nullopt;
}

}  // namespace

std::string chat_prompt(const std::vector<std::pair<std::string, std::string>>& messages) {
  std::string prompt;
  for (const auto& [role, text] : messages) {
    if (!prompt.empty()) prompt += "\n";
    prompt += text;
  }
  return prompt;
}

std::variant<parsed_request, request_error> parse_request(endpoint kind, std::string_view text) {
  rapidjson::Document body;
  // Iterative: a body of nested brackets (a 2 MB one is enough) would
  // exhaust the stack of the recursive parser and crash the server.
  body.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (body.HasParseError() || !body.IsObject()) return request_error{"request body is not a JSON object", ""};

  parsed_request out;
  const auto* model = field(body, "model");
  if (!model || !model->IsString() || model->GetStringLength() == 0) {
    return request_error{"'model' is required and must be a string", "model"};
  }
  out.model.assign(model->GetString(), model->GetStringLength());
  auto problem = [&]() -> std::optional<request_error> {
  if (auto refused = refuse_unknown(kind, body)) return *refused;
  if (auto refused = refuse_unsupported(body)) return *refused;

  if (kind == endpoint::completions) {
    const auto* prompt = field(body, "prompt");
    if (!prompt) return request_error{"'prompt' is required", "prompt"};
    if (prompt->IsString()) {
      out.generation.prompt.assign(prompt->GetString(), prompt->GetStringLength());
    } else if (prompt->IsArray() && prompt->Size() == 1 && (*prompt)[0].IsString()) {
      out.generation.prompt.assign((*prompt)[0].GetString(), (*prompt)[0].GetStringLength());
    } else {
      return request_error{"'prompt' must be a string (or an array holding one string)", "prompt"};
    }
    out.generation.sampling.max_tokens = 16;  // OpenAI's default for completions
  } else {
    const auto* messages = field(body, "messages");
    if (!messages || !messages->IsArray() || messages->Empty()) {
      return request_error{"'messages' must be a non-empty array", "messages"};
    }
    std::vector<std::pair<std::string, std::string>> turns;
    for (const auto& message : messages->GetArray()) {
      const auto* role = message.IsObject() ? field(message, "role") : nullptr;
      if (!role || !role->IsString()) return request_error{"every message needs a string 'role'", "messages"};
      const auto* content = field(message, "content");
      auto words = content ? content_text(*content) : std::optional<std::string>{};
      if (!words) return request_error{"every message needs 'content' as text", "messages"};
      turns.emplace_back(role->GetString(), std::move(*words));
    }
    out.generation.prompt = chat_prompt(turns);
    if (const auto* m = field(body, "max_completion_tokens")) {
      if (!m->IsUint() || m->GetUint() < 1) return request_error{"'max_completion_tokens' must be a positive integer", "max_completion_tokens"};
      out.generation.sampling.max_tokens = m->GetUint();
    }
  }

  if (auto problem = read_sampling_parameters(body, out.generation.sampling)) {
    const auto quote = problem->find('\'');
    const auto end = quote == std::string::npos ? quote : problem->find('\'', quote + 1);
    return request_error{*problem, end == std::string::npos ? "" : problem->substr(quote + 1, end - quote - 1)};
  }
  if (const auto* stream = field(body, "stream")) {
    if (!stream->IsBool()) return request_error{"'stream' must be true or false", "stream"};
    out.stream = stream->GetBool();
  }
  if (const auto* options = field(body, "stream_options")) {
    if (!options->IsObject()) return request_error{"'stream_options' must be an object", "stream_options"};
    if (const auto* usage = field(*options, "include_usage")) {
      if (!usage->IsBool()) return request_error{"'stream_options.include_usage' must be true or false", "stream_options"};
      out.include_usage = usage->GetBool();
    }
  }
  if (const auto* priority = field(body, "priority")) {
    if (!priority->IsUint()) return request_error{"'priority' must be a non-negative integer", "priority"};
    out.priority = priority->GetUint();
  }
  return std::nullopt;
  }();
  if (problem) {
    problem->model = out.model;
    return *problem;
  }
  // OpenAI refuses a prompt and max_tokens that do not fit the context; the
  // sequence scheduler checks once the prompt is tokenized.
  out.generation.refuse_beyond_context = true;
  return out;
}

namespace {

void write_head(json_writer& w, const response_context& c, bool chunk) {
  w.Key("id");
  write(w, c.id);
  w.Key("object");
  if (c.kind == endpoint::completions) write(w, "text_completion");
  else write(w, chunk ? "chat.completion.chunk" : "chat.completion");
  w.Key("created");
  w.Int64(c.created);
  w.Key("model");
  write(w, c.model);
}

void write_finish_reason(json_writer& w, const std::optional<std::string>& reason) {
  w.Key("finish_reason");
  if (reason) write(w, *reason);
  else w.Null();
}

void write_usage(json_writer& w, const usage& counts) {
  w.Key("usage");
  w.StartObject();
  w.Key("prompt_tokens");
  w.Uint(counts.prompt_tokens);
  w.Key("completion_tokens");
  w.Uint(counts.completion_tokens);
  w.Key("total_tokens");
  w.Uint(counts.prompt_tokens + counts.completion_tokens);
  w.EndObject();
}

}  // namespace

std::string completion_json(const response_context& c, std::string_view text,
                            const std::optional<std::string>& finish_reason, const usage& counts) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  write_head(w, c, false);
  w.Key("choices");
  w.StartArray();
  w.StartObject();
  w.Key("index");
  w.Uint(0);
  if (c.kind == endpoint::completions) {
    w.Key("text");
    write(w, text);
  } else {
    w.Key("message");
    w.StartObject();
    w.Key("role");
    write(w, "assistant");
    w.Key("content");
    write(w, text);
    w.EndObject();
  }
  w.Key("logprobs");
  w.Null();
  write_finish_reason(w, finish_reason);
  w.EndObject();
  w.EndArray();
  write_usage(w, counts);
  w.EndObject();
  return buffer.GetString();
}

std::string chunk_json(const response_context& c, std::string_view text, const std::optional<std::string>& finish_reason,
                       bool first) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  write_head(w, c, true);
  w.Key("choices");
  w.StartArray();
  w.StartObject();
  w.Key("index");
  w.Uint(0);
  if (c.kind == endpoint::completions) {
    w.Key("text");
    write(w, text);
  } else {
    w.Key("delta");
    w.StartObject();
    if (first) {
      w.Key("role");
      write(w, "assistant");
    }
    if (!text.empty() || !finish_reason) {
      w.Key("content");
      write(w, text);
    }
    w.EndObject();
  }
  w.Key("logprobs");
  w.Null();
  write_finish_reason(w, finish_reason);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

std::string usage_chunk_json(const response_context& c, const usage& counts) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  write_head(w, c, true);
  w.Key("choices");
  w.StartArray();
  w.EndArray();
  write_usage(w, counts);
  w.EndObject();
  return buffer.GetString();
}

std::string models_json(const std::vector<std::string>& models, std::int64_t created) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("object");
  write(w, "list");
  w.Key("data");
  w.StartArray();
  for (const auto& name : models) {
    w.StartObject();
    w.Key("id");
    write(w, name);
    w.Key("object");
    write(w, "model");
    w.Key("created");
    w.Int64(created);
    w.Key("owned_by");
    write(w, "surge");
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

std::string error_json(std::string_view message, std::string_view type, std::string_view param,
                       std::string_view code) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("message");
  write(w, message);
  w.Key("type");
  write(w, type);
  w.Key("param");
  if (param.empty()) w.Null();
  else write(w, param);
  w.Key("code");
  if (code.empty()) w.Null();
  else write(w, code);
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

std::pair<std::string_view, std::string_view> error_type_of(error_code code) {
  switch (code) {
    case error_code::invalid_argument: return {"invalid_request_error", ""};
    case error_code::not_found: return {"invalid_request_error", "model_not_found"};
    case error_code::unavailable: return {"rate_limit_error", "rate_limit_exceeded"};
    case error_code::not_ready: return {"service_unavailable_error", "model_not_ready"};
    case error_code::deadline_exceeded: return {"timeout_error", "timeout"};
    case error_code::cancelled: return {"cancelled", "cancelled"};
    case error_code::internal: break;
  }
  return {"server_error", ""};
}

}  // namespace surge::openai
