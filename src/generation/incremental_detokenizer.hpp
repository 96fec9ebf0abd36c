#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "generation/generation_engine.hpp"

namespace surge {

// Turns a growing token sequence into text at a constant cost per token: each
// step decodes only the tokens since the last settled character, never the
// whole completion. Decoding behind a "prefix" of already-settled tokens keeps
// what tokenizers attach to a word by context (a leading space, a merged byte
// sequence); the text that prefix alone decodes to is dropped. Starting with
// the prompt's last token as the prefix keeps the first generated word's
// leading space. The scheme is the one Hugging Face's and vLLM's streaming
// detokenizers use.
class incremental_detokenizer {
 public:
  // `prefix_start`: index of the first token of the initial prefix (the
  // prompt's last token); `read_start`: index of the first token to emit.
  incremental_detokenizer(std::size_t prefix_start, std::size_t read_start)
      : prefix_offset_(prefix_start), read_offset_(read_start) {}

  // Appends to text() what `tokens` (the whole sequence so far) adds. Text
  // whose last character is not complete yet (a byte-fallback decoder shows
  // U+FFFD for it) is held until a later token completes it, unless `final`.
  std::optional<error> advance(const generation_model& decoder, std::span<const std::int32_t> tokens, bool final = false);

  // The generated text so far.
  std::string_view text() const { return text_; }

 private:
  std::size_t prefix_offset_;
  std::size_t read_offset_;
  std::optional<std::string> prefix_text_;  // what tokens[prefix_offset_, read_offset_) decode to
  std::string text_;
};

}  // namespace surge
