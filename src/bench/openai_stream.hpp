#pragma once

// Reading an OpenAI streamed completion as it arrives: what each SSE event
// says (text, finish, usage, error, [DONE]) and, over one response, when the
// text came. Pure apart from the clock values handed in, so it is tested
// without a server.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load_target.hpp"
#include "bench/sse_parser.hpp"

namespace surge::bench {

// What one event's data says.
struct openai_event {
  bool done{false};                  // "data: [DONE]"
  std::optional<std::string> error;  // {"error": {...}}: its message
  std::optional<std::string> invalid;  // neither a chunk, an error nor [DONE]: what is wrong with it
  std::size_t text_bytes{0};         // choices[0].text (completions) or choices[0].delta.content (chat)
  bool finished{false};              // choices[0].finish_reason is set
  std::optional<std::uint64_t> completion_tokens;  // usage.completion_tokens
};

openai_event interpret_openai_event(std::string_view data);

// Follows one streamed response: feed it the body as it arrives with the time
// it arrived, then ask how it went.
class openai_stream_reader {
 public:
  void on_body(std::string_view piece, bench_clock::time_point arrived);

  // Ended with [DONE] and no error or malformed event.
  bool complete() const { return done_ && !error_ && !invalid_; }
  // The server's error event, when it sent one.
  const std::optional<std::string>& error() const { return error_; }
  // What made the stream malformed (bad JSON, data after [DONE], an oversized
  // event, the body ending mid-event or without [DONE]); call after the body ended.
  std::optional<std::string> problem() const;

  // The timing and token count; valid whatever the outcome.
  const stream_observation& observation() const { return observation_; }
  std::uint64_t content_events() const { return content_events_; }

 private:
  void on_event(const sse_event& event, bench_clock::time_point arrived);

  sse_parser parser_;
  std::vector<sse_event> events_;  // reused between pieces
  stream_observation observation_;
  std::uint64_t content_events_{0};
  bench_clock::time_point last_token_at_{};
  std::optional<std::uint64_t> usage_tokens_;
  bool done_{false};
  std::optional<std::string> error_;
  std::optional<std::string> invalid_;
};

}  // namespace surge::bench
