// A /v1/completions or /v1/chat/completions body through the OpenAI
// frontend's parser. A refusal has a message and becomes a JSON error body;
// an accepted request names its model, and the answers that echo the
// model's name (the completion, a streamed chunk) are JSON.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "frontends/openai/openai_codec.hpp"
#include "fuzz_checks.hpp"

namespace {

using namespace surge;
using fuzz::check;

void parse_as(openai::endpoint kind, std::string_view body) {
  auto parsed = openai::parse_request(kind, body);
  if (auto* problem = std::get_if<openai::request_error>(&parsed)) {
    check(!problem->message.empty(), "an OpenAI refusal has a message");
    fuzz::check_json(openai::error_json(problem->message, "invalid_request_error", problem->param),
                     "an OpenAI error body");
    return;
  }
  const auto& request = std::get<openai::parsed_request>(parsed);
  check(!request.model.empty(), "an accepted OpenAI request names its model");
  const auto& sampling = request.generation.sampling;
  check(!(sampling.temperature < 0) && !(sampling.top_p < 0) && !(sampling.top_p > 1),
        "accepted sampling parameters are in range");
  const openai::response_context context{kind, "cmpl-1", 0, request.model};
  fuzz::check_json(openai::completion_json(context, request.generation.prompt, "stop", {}), "an OpenAI completion");
  fuzz::check_json(openai::chunk_json(context, request.generation.prompt, std::nullopt, true), "an OpenAI chunk");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  parse_as(openai::endpoint::completions, body);
  parse_as(openai::endpoint::chat_completions, body);
  return 0;
}
