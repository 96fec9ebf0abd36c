#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace surge {

// How to pick each next token. Sampling lives in the server, shared by every
// generative backend (src/generation/sampler.hpp).
struct sampling_parameters {
  std::uint32_t max_tokens{0};     // 0: the model's default_max_tokens
  float temperature{1.0f};         // 0: greedy
  std::uint32_t top_k{0};          // 0: no limit
  float top_p{1.0f};               // nucleus mass kept; 1: no limit
  std::optional<std::uint64_t> seed;  // none: a random seed per request
  std::vector<std::string> stop;   // generation ends before the first of these
  bool ignore_eos{false};          // keep going past the end-of-sequence token
};

// A text-generation request's own part: set by the OpenAI and KServe generate
// frontends, or derived from a `text_input` tensor by the model.
struct generation_options {
  std::string prompt;
  sampling_parameters sampling;
  // true (the OpenAI API): a prompt whose tokens plus the max_tokens asked
  // for exceed the context is refused; false: the reply is cut where the
  // context ends (finish_reason "length").
  bool refuse_beyond_context{false};
};

// The most bytes of text one token stands for, as assumed of every tokenizer
// (the longest tokens of common BPE vocabularies are well under it; the demo
// models' tokenizers take one byte per token). A prompt longer than
// context × this many bytes therefore cannot fit its model's context and is
// refused before it is tokenized, so a huge prompt costs no tokenizer time or
// memory.
inline constexpr std::size_t max_bytes_per_token = 64;
inline constexpr std::size_t max_prompt_bytes(std::uint32_t context_tokens) {
  return std::size_t{context_tokens} * max_bytes_per_token;
}

// One streamed piece of a generation. Every chunk but the last has no
// finish_reason; the last one has it and the final token counts.
struct generation_chunk {
  std::string text;                          // new text since the previous chunk
  std::uint32_t tokens{0};                   // tokens generated for this chunk
  std::optional<std::string> finish_reason;  // "stop" or "length"
  std::uint32_t prompt_tokens{0};
  std::uint32_t completion_tokens{0};  // generated so far
};

}  // namespace surge
