#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <set>
#include <string>

#include "bench/openai_request.hpp"
#include "bench/openai_stream.hpp"

namespace surge::bench {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string completion_chunk(std::string_view text, std::string_view finish = "null") {
  return "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"" + std::string(text) +
         "\",\"logprobs\":null,\"finish_reason\":" + std::string(finish) + "}]}";
}

std::string chat_chunk(std::string_view content) {
  return "{\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" +
         std::string(content) + "\"},\"finish_reason\":null}]}";
}

std::string event(std::string_view data) { return "data: " + std::string(data) + "\n\n"; }

TEST(OpenAIEvent, ReadsCompletionAndChatText) {
  EXPECT_EQ(interpret_openai_event(completion_chunk("abc")).text_bytes, 3u);
  EXPECT_EQ(interpret_openai_event(chat_chunk("de")).text_bytes, 2u);
  // The first chat delta carries only the role.
  const auto role =
      interpret_openai_event(R"({"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]})");
  EXPECT_EQ(role.text_bytes, 0u);
  EXPECT_FALSE(role.invalid);
  const auto last = interpret_openai_event(completion_chunk("", "\"length\""));
  EXPECT_TRUE(last.finished);
  EXPECT_EQ(last.text_bytes, 0u);
}

TEST(OpenAIEvent, ReadsUsageDoneAndErrors) {
  const auto usage =
      interpret_openai_event(R"({"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":17,"total_tokens":21}})");
  EXPECT_EQ(usage.completion_tokens, 17u);
  EXPECT_FALSE(usage.invalid);
  EXPECT_TRUE(interpret_openai_event("[DONE]").done);
  const auto error = interpret_openai_event(R"({"error":{"message":"backend failed","type":"server_error"}})");
  EXPECT_EQ(error.error, "backend failed");
}

TEST(OpenAIEvent, MalformedEventsSayWhy) {
  EXPECT_THAT(*interpret_openai_event("{not json").invalid, HasSubstr("not a JSON object"));
  EXPECT_THAT(*interpret_openai_event(R"({"object":"x"})").invalid, HasSubstr("choices"));
  EXPECT_THAT(*interpret_openai_event(R"({"choices":[{"text":5}]})").invalid, HasSubstr("not a string"));
  EXPECT_THAT(*interpret_openai_event(R"({"choices":[],"usage":{"completion_tokens":-1}})").invalid,
              HasSubstr("completion_tokens"));
}

bench_clock::time_point at(std::chrono::milliseconds offset) { return bench_clock::time_point{} + 1h + offset; }

TEST(OpenAIStreamReader, TimesTextEventsAndCountsUsageTokens) {
  openai_stream_reader reader;
  reader.on_body(event(completion_chunk("In")), at(100ms));
  // Two events in one read arrive together: a gap of zero between them.
  reader.on_body(event(completion_chunk(" the")) + event(completion_chunk(" beginning")), at(130ms));
  reader.on_body(event(completion_chunk("", "\"length\"")), at(131ms));  // no text: not timed
  reader.on_body(event(R"({"choices":[],"usage":{"completion_tokens":5}})"), at(132ms));
  reader.on_body(event("[DONE]"), at(132ms));
  EXPECT_TRUE(reader.complete());
  EXPECT_FALSE(reader.problem());
  const auto& seen = reader.observation();
  EXPECT_EQ(seen.first_token_at, at(100ms));
  EXPECT_THAT(seen.inter_token_gaps, ElementsAre(30ms, 0ms));
  EXPECT_EQ(seen.output_tokens, 5u);  // the usage count, not the three text events
  EXPECT_TRUE(seen.tokens_from_usage);
  EXPECT_EQ(reader.content_events(), 3u);
}

TEST(OpenAIStreamReader, EventSplitAcrossReadsIsTimedWhenComplete) {
  openai_stream_reader reader;
  const auto whole = event(chat_chunk("Hi"));
  reader.on_body(whole.substr(0, 10), at(5ms));
  EXPECT_FALSE(reader.observation().first_token_at);
  reader.on_body(whole.substr(10), at(9ms));
  EXPECT_EQ(reader.observation().first_token_at, at(9ms));
}

TEST(OpenAIStreamReader, WithoutUsageCountsTextEvents) {
  openai_stream_reader reader;
  reader.on_body(event(completion_chunk("a")) + event(completion_chunk("b")) + event("[DONE]"), at(1ms));
  EXPECT_TRUE(reader.complete());
  EXPECT_EQ(reader.observation().output_tokens, 2u);
  EXPECT_FALSE(reader.observation().tokens_from_usage);
}

TEST(OpenAIStreamReader, ErrorEventIsTheOutcome) {
  openai_stream_reader reader;
  reader.on_body(event(completion_chunk("a")), at(1ms));
  reader.on_body(event(R"({"error":{"message":"instance crashed","type":"server_error","param":null,"code":null}})") +
                     event("[DONE]"),
                 at(2ms));
  EXPECT_FALSE(reader.complete());
  EXPECT_EQ(reader.error(), "instance crashed");
  EXPECT_FALSE(reader.problem());
}

TEST(OpenAIStreamReader, TruncatedOrMalformedStreamsAreProblems) {
  openai_stream_reader no_done;
  no_done.on_body(event(completion_chunk("a")), at(1ms));
  EXPECT_THAT(*no_done.problem(), HasSubstr("[DONE]"));

  openai_stream_reader cut;
  cut.on_body(event(completion_chunk("a")) + "data: {\"choi", at(1ms));
  EXPECT_THAT(*cut.problem(), HasSubstr("inside an event"));

  openai_stream_reader after;
  after.on_body(event("[DONE]") + event(completion_chunk("late")), at(1ms));
  EXPECT_THAT(*after.problem(), HasSubstr("after [DONE]"));
  EXPECT_FALSE(after.complete());

  openai_stream_reader garbage;
  garbage.on_body(event("<html>") + event("[DONE]"), at(1ms));
  EXPECT_THAT(*garbage.problem(), HasSubstr("not a JSON object"));
}

TEST(OpenAIStreamReader, SameObservationWhateverTheSplit) {
  const std::string body = event(completion_chunk("x")) + event(completion_chunk("yz")) +
                           event(R"({"choices":[],"usage":{"completion_tokens":3}})") + event("[DONE]");
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    openai_stream_reader reader;
    reader.on_body(body.substr(0, cut), at(1ms));
    reader.on_body(body.substr(cut), at(1ms));
    EXPECT_TRUE(reader.complete()) << "split at " << cut;
    EXPECT_EQ(reader.observation().output_tokens, 3u);
    EXPECT_EQ(reader.content_events(), 2u);
  }
}

openai_request_settings settings_of(bool chat) {
  openai_request_settings settings;
  settings.model = "kjv_lm";
  settings.chat = chat;
  settings.prompts = {"In the \"beginning\"\n", "And God said"};
  settings.max_tokens = {8, 256};
  return settings;
}

TEST(OpenAIRequest, CompletionBodyAsksForAStreamWithUsage) {
  auto settings = settings_of(false);
  settings.ignore_eos = true;
  settings.temperature = 0.5;
  const auto body = openai_request_body(settings, 0, 17);
  rapidjson::Document d;
  d.Parse(body.c_str());
  ASSERT_FALSE(d.HasParseError()) << body;
  EXPECT_STREQ(d["model"].GetString(), "kjv_lm");
  EXPECT_STREQ(d["prompt"].GetString(), "In the \"beginning\"\n");
  EXPECT_EQ(d["max_tokens"].GetUint(), 17u);
  EXPECT_TRUE(d["stream"].GetBool());
  EXPECT_TRUE(d["stream_options"]["include_usage"].GetBool());
  EXPECT_TRUE(d["ignore_eos"].GetBool());
  EXPECT_DOUBLE_EQ(d["temperature"].GetDouble(), 0.5);
  EXPECT_EQ(openai_path(false), "/v1/completions");
}

TEST(OpenAIRequest, ChatBodyHasOneUserMessage) {
  const auto body = openai_request_body(settings_of(true), 1, 8);
  rapidjson::Document d;
  d.Parse(body.c_str());
  ASSERT_FALSE(d.HasParseError()) << body;
  EXPECT_FALSE(d.HasMember("prompt"));
  ASSERT_EQ(d["messages"].Size(), 1u);
  EXPECT_STREQ(d["messages"][0]["role"].GetString(), "user");
  EXPECT_STREQ(d["messages"][0]["content"].GetString(), "And God said");
  EXPECT_FALSE(d.HasMember("ignore_eos"));
  EXPECT_FALSE(d.HasMember("temperature"));
  EXPECT_EQ(openai_path(true), "/v1/chat/completions");
}

TEST(OpenAIRequest, PromptsFromLines) {
  const auto prompts = std::get<std::vector<std::string>>(prompts_from_text("first\r\n\nsecond line\nthird"));
  EXPECT_THAT(prompts, ElementsAre("first", "second line", "third"));
  EXPECT_THAT(std::get<std::string>(prompts_from_text("\n\r\n")), HasSubstr("no prompt"));
}

TEST(OpenAIRequest, PickerStaysInRangeAndRepeatsWithTheSeed) {
  const auto settings = settings_of(false);
  openai_request_picker a(settings, 42), b(settings, 42), c(settings, 43);
  std::set<std::uint32_t> lengths;
  std::set<std::size_t> prompts;
  bool differs = false;
  for (int i = 0; i < 2000; ++i) {
    const auto x = a.next();
    const auto y = b.next();
    const auto z = c.next();
    EXPECT_EQ(x.max_tokens, y.max_tokens);
    EXPECT_EQ(x.prompt_index, y.prompt_index);
    differs = differs || x.max_tokens != z.max_tokens;
    EXPECT_GE(x.max_tokens, 8u);
    EXPECT_LE(x.max_tokens, 256u);
    lengths.insert(x.max_tokens);
    prompts.insert(x.prompt_index);
  }
  EXPECT_TRUE(differs);
  EXPECT_GT(lengths.size(), 200u);  // spread over the range, not stuck
  EXPECT_TRUE(lengths.count(8) && lengths.count(256));  // both bounds are included
  EXPECT_EQ(prompts.size(), 2u);
}

TEST(OpenAIRequest, LogUniformDrawsManyShortAndFewLong) {
  auto settings = settings_of(false);  // 8..256
  settings.max_tokens_distribution = length_distribution::log_uniform;
  openai_request_picker picker(settings, 7);
  constexpr int draws = 20000;
  int below_middle = 0;
  std::set<std::uint32_t> seen;
  for (int i = 0; i < draws; ++i) {
    const auto n = picker.next().max_tokens;
    ASSERT_GE(n, 8u);
    ASSERT_LE(n, 256u);
    seen.insert(n);
    // The geometric middle of 8 and 256 is 45.25: half of the draws fall
    // below it (uniform draws would put 15% there).
    if (n <= 45) ++below_middle;
  }
  EXPECT_NEAR(static_cast<double>(below_middle) / draws, 0.5, 0.03);
  EXPECT_TRUE(seen.count(8) && seen.count(256));
}

}  // namespace
}  // namespace surge::bench
