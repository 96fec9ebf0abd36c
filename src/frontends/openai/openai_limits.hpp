#pragma once

#include <cstddef>
#include <cstdint>

#include "core/generation.hpp"

namespace surge::openai {

// The largest body a completion request needs: a prompt of the most bytes
// the context can hold (core/generation.hpp), every byte escaped as JSON's
// six-byte \uXXXX, plus room for the other fields and a chat's per-message
// wrapping. Anything longer cannot fit the context, so it is refused from
// its Content-Length before it is read.
inline constexpr std::size_t json_escape_factor = 6;
inline constexpr std::size_t request_overhead_bytes = 64 * 1024;
inline constexpr std::size_t completion_body_limit(std::uint32_t context_tokens) {
  return max_prompt_bytes(context_tokens) * json_escape_factor + request_overhead_bytes;
}

}  // namespace surge::openai
