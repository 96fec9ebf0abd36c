#pragma once

// One tensor of a KServe v2 body ("inputs" of a request, "outputs" of a
// response): its JSON header, and its elements from JSON "data" or from the
// binary section.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/shared_memory_ref.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"
#include "wire/json_text.hpp"

namespace surge::wire {

// The bytes after the JSON header, shared by the tensors that point into it.
struct binary_section {
  std::shared_ptr<const std::string> body;
  std::size_t offset{0};  // where the section starts in body
  std::size_t used{0};    // bytes claimed by the tensors so far
  bool header_present{false};

  std::size_t size() const { return body->size() - offset; }
};

// A KServe body split at `json_length` (all JSON when absent): its header
// parsed into a JSON object, and the binary section after it. `length_name`
// names the length in messages ("Inference-Header-Content-Length"), `what`
// the body ("request", "response").
struct parsed_body {
  rapidjson::Document document;
  binary_section section;
};
std::variant<parsed_body, error> parse_body(std::shared_ptr<const std::string> body,
                                            std::optional<std::size_t> json_length, std::string_view length_name,
                                            std::string_view what);

// Decodes element `position` of an "inputs" (kind "input") or "outputs"
// (kind "output") array. Binary tensors become views into the section's body
// (owner: the body); JSON ones own converted buffers. With `shared_memory`
// given, a tensor whose parameters name a shared_memory_region comes back
// with no data and the region in *shared_memory; without it such a tensor is
// refused. Failures are invalid_argument naming the tensor.
std::variant<tensor, error> decode_tensor(const json_value& input, std::size_t position, binary_section& section,
                                          std::string_view kind = "input",
                                          std::optional<shared_memory_ref>* shared_memory = nullptr);

// The shared_memory_region, shared_memory_offset and shared_memory_byte_size
// parameters of a tensor's "parameters" object; nullopt when it names no
// region. `label` names the tensor in errors.
std::variant<std::optional<shared_memory_ref>, error> decode_shared_memory_parameters(const json_value& parameters,
                                                                                      const std::string& label);

}  // namespace surge::wire
