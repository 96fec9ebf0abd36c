#include "frontends/openai/openai_codec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace surge::openai {
namespace {

// A million nested arrays: deep enough to exhaust an 8 MB stack in a
// recursive JSON parser, small enough (2 MB) to pass the body limit.
std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(OpenaiCodec, DeeplyNestedBodyIsRefusedWithoutExhaustingTheStack) {
  const auto body = R"({"model": "m", "prompt": )" + nested_arrays(1'000'000) + "}";
  auto parsed = parse_request(endpoint::completions, body);
  ASSERT_TRUE(std::holds_alternative<request_error>(parsed));
  EXPECT_EQ(std::get<request_error>(parsed).param, "prompt");

  auto chat = parse_request(endpoint::chat_completions, nested_arrays(1'000'000));
  ASSERT_TRUE(std::holds_alternative<request_error>(chat));
  EXPECT_EQ(std::get<request_error>(chat).message, "request body is not a JSON object");
}

TEST(OpenaiCodec, ParsesACompletionRequest) {
  auto parsed = parse_request(endpoint::completions, R"({"model": "m", "prompt": ["abc"], "max_tokens": 3})");
  ASSERT_TRUE(std::holds_alternative<parsed_request>(parsed));
  const auto& request = std::get<parsed_request>(parsed);
  EXPECT_EQ(request.model, "m");
  EXPECT_EQ(request.generation.prompt, "abc");
  EXPECT_EQ(request.generation.sampling.max_tokens, 3u);
}

TEST(OpenaiCodec, AFieldOutsideOpenAIsApiIsRefusedByName) {
  auto parsed = parse_request(endpoint::completions, R"({"model": "m", "prompt": "a", "frobnicate": 1})");
  ASSERT_TRUE(std::holds_alternative<request_error>(parsed));
  const auto& problem = std::get<request_error>(parsed);
  EXPECT_EQ(problem.param, "frobnicate");
  EXPECT_NE(problem.message.find("'frobnicate' is not a field of the OpenAI completions API"), std::string::npos);
  // The model is known, so the refusal can be counted against it.
  EXPECT_EQ(problem.model, "m");
  // A chat-only field is not a completions field.
  auto metadata = parse_request(endpoint::completions, R"({"model": "m", "prompt": "a", "metadata": {}})");
  ASSERT_TRUE(std::holds_alternative<request_error>(metadata));
}

TEST(OpenaiCodec, OpenAIFieldsSurgeDoesNotActOnAreAccepted) {
  auto chat = parse_request(endpoint::chat_completions,
                            R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "user": "u",)"
                            R"( "metadata": {"k": "v"}, "store": false, "service_tier": "auto"})");
  ASSERT_TRUE(std::holds_alternative<parsed_request>(chat));
  EXPECT_TRUE(std::get<parsed_request>(chat).generation.refuse_beyond_context);
  auto tools = parse_request(endpoint::chat_completions,
                             R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": []})");
  ASSERT_TRUE(std::holds_alternative<request_error>(tools));
  EXPECT_EQ(std::get<request_error>(tools).param, "tools");
}

}  // namespace
}  // namespace surge::openai
