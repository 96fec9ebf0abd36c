#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace surge {

// Text a client sent (a tensor or model name, a header value), made fit to be
// quoted in an error message: an answer must stay short whatever the client
// sent, and HTTP JSON bodies and gRPC status messages must be valid UTF-8.
// At most `max_bytes` of `text` are kept, cut on a character boundary, then
// "..." and the original length ("... (10485760 bytes)"); every byte that is
// not part of a well-formed UTF-8 sequence becomes "\xNN".
inline constexpr std::size_t client_text_max_bytes = 128;
std::string client_text(std::string_view text, std::size_t max_bytes = client_text_max_bytes);

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0
// when it does not start with one (overlong forms, surrogates and code points
// above U+10FFFF are not well-formed).
std::size_t utf8_sequence_length(std::string_view text);

// The answer to a request naming a model the server does not have, worded as
// Triton words it so that scripts matching on it keep working:
// "Request for unknown model: 'name' is not found".
inline std::string unknown_model_message(std::string_view name) {
  return "Request for unknown model: '" + client_text(name) + "' is not found";
}

}  // namespace surge
