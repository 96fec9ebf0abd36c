// A KServe v2 infer body through the decoders: as a request (what the HTTP
// frontend and the stream worker decode) and as a response (what the
// gateway and upstream instances decode). An input that starts with a line
// of digits carries the Inference-Header-Content-Length: "<n>\n", then the
// body (JSON header, then the binary tensor data); without it the body is
// all JSON.
//
// Decoded tensors must fit their byte sizes; a refusal is invalid_argument
// with a message, and the error body made of it is JSON that gives the
// message back.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_checks.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace {

using namespace surge;
using fuzz::check;

void check_failure(const error& failure) {
  fuzz::check_refusal(failure);
  const auto body = wire::encode_error(failure.message);
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject() || !document.HasMember("error") ||
      !document["error"].IsString()) {
    fuzz::fail("an error body is {\"error\": <string>}: " + body);
  }
  const std::string_view said(document["error"].GetString(), document["error"].GetStringLength());
  check(said == failure.message, "an error body gives the message back unchanged");
}

// "<digits>\n" at the start: the header length; the rest is the body.
std::optional<std::size_t> split_length(std::string_view& input) {
  std::size_t digits = 0;
  std::size_t value = 0;
  while (digits < input.size() && digits < 9 && input[digits] >= '0' && input[digits] <= '9') {
    value = value * 10 + static_cast<std::size_t>(input[digits] - '0');
    ++digits;
  }
  if (digits == 0 || digits >= input.size() || input[digits] != '\n') return std::nullopt;
  input.remove_prefix(digits + 1);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto json_length = split_length(input);
  auto body = std::make_shared<const std::string>(input);

  auto request = wire::decode_infer_request(body, json_length);
  if (auto* failure = std::get_if<error>(&request)) {
    check_failure(*failure);
  } else {
    for (const auto& in : std::get<wire::decoded_infer_request>(request).inputs) fuzz::check_tensor(in);
  }

  auto response = wire::decode_infer_response(body, json_length);
  if (auto* failure = std::get_if<error>(&response)) {
    check_failure(*failure);
  } else {
    for (const auto& out : std::get<wire::decoded_infer_response>(response).outputs) fuzz::check_tensor(out);
  }
  return 0;
}
