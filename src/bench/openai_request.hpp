#pragma once

// The streamed OpenAI completion requests `surge bench --protocol openai`
// sends. Each request takes one of the prompts and a max_tokens in the asked
// range, both drawn from a seeded generator, so a run is repeatable and the
// lengths vary the way a mixed workload's do. Pure, so it is tested without a
// server.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_options.hpp"

namespace surge::bench {

struct openai_request_settings {
  std::string model;
  bool chat{false};                      // /v1/chat/completions instead of /v1/completions
  std::vector<std::string> prompts;      // at least one
  token_range max_tokens{64, 64};
  length_distribution max_tokens_distribution{length_distribution::uniform};
  bool ignore_eos{false};                // sent as "ignore_eos": true (surge and vLLM extension)
  std::optional<double> temperature;     // none: the server's default
};

// "/v1/completions" or "/v1/chat/completions".
std::string_view openai_path(bool chat);

// The JSON body of one request: stream on, usage included in the stream.
std::string openai_request_body(const openai_request_settings& settings, std::size_t prompt_index,
                                std::uint32_t max_tokens);

// Prompts from a file: one per line (CRLF or LF); empty lines are skipped.
// A message naming the problem when there is none.
parsed<std::vector<std::string>> prompts_from_text(std::string_view text);

// Draws the prompt and max_tokens of each next request. One per connection,
// each seeded differently, so connections do not send in lockstep.
class openai_request_picker {
 public:
  openai_request_picker(const openai_request_settings& settings, std::uint64_t seed);

  struct choice {
    std::size_t prompt_index{0};
    std::uint32_t max_tokens{0};
  };
  choice next();

 private:
  std::mt19937_64 random_;
  std::uniform_int_distribution<std::size_t> prompt_;
  length_distribution distribution_;
  token_range range_;
  std::uniform_int_distribution<std::uint32_t> uniform_;
  std::uniform_real_distribution<double> log_uniform_;  // of log(max_tokens)
};

}  // namespace surge::bench
