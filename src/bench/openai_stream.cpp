#include "bench/openai_stream.hpp"

#include <rapidjson/document.h>

namespace surge::bench {

namespace {

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string shortened(std::string_view text) {
  constexpr std::size_t shown = 120;
  return text.size() > shown ? std::string(text.substr(0, shown)) + "..." : std::string(text);
}

}  // namespace

openai_event interpret_openai_event(std::string_view data) {
  openai_event event;
  if (data == "[DONE]") {
    event.done = true;
    return event;
  }
  rapidjson::Document document;
  document.Parse(data.data(), data.size());
  if (document.HasParseError() || !document.IsObject()) {
    event.invalid = "an event that is not a JSON object: " + shortened(data);
    return event;
  }
  if (const auto* error = member(document, "error")) {
    const auto* message = member(*error, "message");
    event.error = message && message->IsString() ? std::string(message->GetString(), message->GetStringLength())
                  : error->IsString()           ? std::string(error->GetString(), error->GetStringLength())
                                                : shortened(data);
    return event;
  }
  if (const auto* usage = member(document, "usage")) {
    const auto* tokens = member(*usage, "completion_tokens");
    if (!tokens || !tokens->IsUint64()) {
      event.invalid = "a usage object without a whole completion_tokens: " + shortened(data);
      return event;
    }
    event.completion_tokens = tokens->GetUint64();
  }
  const auto* choices = member(document, "choices");
  if (!choices || !choices->IsArray()) {
    if (!event.completion_tokens) event.invalid = "a chunk without a choices array: " + shortened(data);
    return event;
  }
  if (choices->Empty()) return event;  // the usage chunk
  const auto& choice = (*choices)[0];
  const rapidjson::Value* text = member(choice, "text");
  if (!text) {
    if (const auto* delta = member(choice, "delta")) text = member(*delta, "content");
  }
  if (text) {
    if (!text->IsString()) {
      event.invalid = "a chunk whose text is not a string: " + shortened(data);
      return event;
    }
    event.text_bytes = text->GetStringLength();
  }
  event.finished = member(choice, "finish_reason") != nullptr;
  return event;
}

void openai_stream_reader::on_body(std::string_view piece, bench_clock::time_point arrived) {
  events_.clear();
  if (!parser_.feed(piece, events_) && !invalid_) {
    invalid_ = "an event over " + std::to_string(sse_parser::default_max_event_bytes) + " bytes";
  }
  for (const auto& event : events_) on_event(event, arrived);
}

void openai_stream_reader::on_event(const sse_event& event, bench_clock::time_point arrived) {
  if (event.type != "message") return;  // named events are not part of OpenAI's stream
  if (done_) {
    if (!invalid_) invalid_ = "an event after [DONE]";
    return;
  }
  const auto said = interpret_openai_event(event.data);
  if (said.invalid) {
    if (!invalid_) invalid_ = said.invalid;
    return;
  }
  if (said.error) {
    if (!error_) error_ = said.error;
    return;
  }
  if (said.done) {
    done_ = true;
    observation_.output_tokens = usage_tokens_.value_or(content_events_);
    observation_.tokens_from_usage = usage_tokens_.has_value();
    return;
  }
  if (said.completion_tokens) usage_tokens_ = said.completion_tokens;
  if (said.text_bytes == 0) return;
  ++content_events_;
  if (!observation_.first_token_at) {
    observation_.first_token_at = arrived;
  } else {
    observation_.inter_token_gaps.push_back(arrived - last_token_at_);
  }
  last_token_at_ = arrived;
}

std::optional<std::string> openai_stream_reader::problem() const {
  if (invalid_) return invalid_;
  if (parser_.pending_bytes() > 0) return std::string("the stream ended inside an event");
  if (!done_ && !error_) return std::string("the stream ended without data: [DONE]");
  return std::nullopt;
}

}  // namespace surge::bench
