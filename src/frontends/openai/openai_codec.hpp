#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/generation.hpp"
#include "core/status.hpp"

namespace surge::openai {

enum class endpoint { completions, chat_completions };

struct parsed_request {
  std::string model;
  generation_options generation;
  bool stream{false};
  bool include_usage{false};  // stream_options.include_usage
  std::uint32_t priority{0};  // surge extension; 0: the model's default, 1: the highest
};

struct request_error {
  std::string message;
  std::string param;  // the offending field, "" when none
  std::string model{};  // the model the body names, when it was read before the error
};

// Parses a /v1/completions or /v1/chat/completions body. Fields surge does not
// implement are refused by name when set to something other than their
// neutral value (n other than 1, logprobs, penalties, tools, ...), never
// silently ignored; purely informational ones (user, metadata) are accepted.
std::variant<parsed_request, request_error> parse_request(endpoint kind, std::string_view body);

// The chat prompt: each message's text on its own line, then the reply follows.
std::string chat_prompt(const std::vector<std::pair<std::string, std::string>>& messages);

// Everything a response or chunk repeats.
struct response_context {
  endpoint kind;
  std::string id;
  std::int64_t created{0};
  std::string model;
};

struct usage {
  std::uint32_t prompt_tokens{0};
  std::uint32_t completion_tokens{0};
};

std::string completion_json(const response_context& context, std::string_view text,
                            const std::optional<std::string>& finish_reason, const usage& counts);
// One streamed chunk; `first` adds the assistant role to a chat delta.
std::string chunk_json(const response_context& context, std::string_view text,
                       const std::optional<std::string>& finish_reason, bool first);
// The extra chunk stream_options.include_usage asks for: no choices, the usage.
std::string usage_chunk_json(const response_context& context, const usage& counts);
std::string models_json(const std::vector<std::string>& models, std::int64_t created);

// OpenAI's error object: {"error": {"message", "type", "param", "code"}}.
std::string error_json(std::string_view message, std::string_view type, std::string_view param = {},
                       std::string_view code = {});
// The type and code OpenAI uses for each surge error.
std::pair<std::string_view, std::string_view> error_type_of(error_code code);

}  // namespace surge::openai
