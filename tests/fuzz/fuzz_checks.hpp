#pragma once

// The invariants every target checks on what a decoder returns. A broken one
// aborts, which libFuzzer reports as a finding with the input that caused it.

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "core/tensor.hpp"
#include "wire/tensor_checks.hpp"

namespace surge::fuzz {

[[noreturn]] inline void fail(std::string_view what) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

inline void check(bool ok, std::string_view what) {
  if (!ok) fail(what);
}

// A decoder refuses bad input with a message the client can act on.
inline void check_refusal(const error& refusal, error_code expected = error_code::invalid_argument) {
  check(refusal.code == expected, "a refusal has the expected error code");
  check(!refusal.message.empty(), "a refusal has a message");
}

// `json` is one JSON document (an error body the server writes).
inline void check_json(std::string_view json, std::string_view what) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError()) fail(std::string(what) + " is not JSON: " + std::string(json));
}

// A decoded tensor can be handed to a backend: a known type, a countable
// shape, and exactly the bytes that shape needs (well-formed length-prefixed
// elements for BYTES), all of them readable.
inline void check_tensor(const tensor& t) {
  check(t.type != data_type::invalid, "a decoded tensor has a type");
  for (auto d : t.shape) check(d >= 0, "a decoded tensor has no negative dimension");
  auto counted = wire::checked_element_count("tensor", t.shape, t.type);
  check(std::holds_alternative<std::size_t>(counted), "a decoded tensor's element count fits");
  const auto count = std::get<std::size_t>(counted);
  if (t.type == data_type::bytes) {
    check(wire::bytes_elements_problem(t.data, count, "size", "data").empty(),
          "a decoded BYTES tensor holds well-formed elements");
  } else {
    check(t.data.size() == count * element_size(t.type), "a decoded tensor holds shape x element size bytes");
  }
  check(t.data.empty() || t.data.data() != nullptr, "a decoded tensor's bytes exist");
  // Read every byte, so AddressSanitizer sees a view past its buffer.
  unsigned sum = 0;
  for (auto b : t.data) sum += static_cast<unsigned>(b);
  volatile unsigned sink = sum;
  (void)sink;
}

}  // namespace surge::fuzz
