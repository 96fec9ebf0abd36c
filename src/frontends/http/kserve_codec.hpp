#pragma once

// KServe v2 (Open Inference Protocol) infer request and response bodies over
// HTTP/JSON, with Triton's binary tensor data extension: a JSON header whose
// length travels in the Inference-Header-Content-Length HTTP header, followed
// by the raw tensor bytes of every tensor that carries a "binary_data_size".

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.hpp"
#include "core/tensor.hpp"

namespace surge::http {

struct requested_output {
  std::string name;
  // Already resolved: the output's own "binary_data" parameter when given,
  // else the request's "binary_data_output".
  bool binary{false};
};

struct decoded_infer_request {
  std::string id;  // the "id" field; empty when absent
  // Binary inputs are views into the body (owner: the body); JSON inputs are
  // converted into buffers of their own. Views may be unaligned for their type.
  std::vector<tensor> inputs;
  std::vector<requested_output> outputs;             // empty: every output of the model
  bool binary_outputs_default{false};                // parameters.binary_data_output
  std::optional<std::uint32_t> priority;             // parameters.priority; 0: the model's default, 1: highest
  std::optional<std::chrono::microseconds> timeout;  // parameters.timeout
  // The other request parameters with string, boolean or number values,
  // for the backend: values as text ("true"/"false", decimal numbers).
  std::vector<std::pair<std::string, std::string>> parameters;
};

// `body` is kept alive by the binary inputs' tensor::owner. `json_length` is the
// Inference-Header-Content-Length header when present: the first json_length
// bytes are JSON and the rest is the binary section. Every failure is
// error_code::invalid_argument with a message that names the offending tensor.
std::variant<decoded_infer_request, error> decode_infer_request(std::shared_ptr<const std::string> body,
                                                                std::optional<std::size_t> json_length);

struct encoded_infer_response {
  std::string body;  // JSON, then the binary outputs' bytes in output order
  // Set when any output is binary: send it as Inference-Header-Content-Length.
  std::optional<std::size_t> json_length;
};

// Writes `requested` outputs in their order, each binary as requested; with
// `requested` empty, every output, binary iff `binary_outputs_default`.
// Preconditions (checked where the model's outputs are known, not here): each
// requested name is among `outputs` (a missing one is left out of the
// response), fixed-size tensors hold shape * element size bytes and BYTES
// tensors hold well-formed length-prefixed elements. A violation never reads
// out of bounds; the response then carries what could be read.
encoded_infer_response encode_infer_response(std::string_view model_name, std::int64_t model_version,
                                             std::string_view id, const std::vector<tensor>& outputs,
                                             const std::vector<requested_output>& requested,
                                             bool binary_outputs_default);

// The other direction, for a server that forwards requests (the Redis
// Streams gateway, the upstream instance) and reads the answers back.

struct encoded_infer_request {
  std::string body;         // JSON, then every input's bytes in input order
  std::size_t json_length;  // the JSON header's length
};

// Every input travels as binary data and every requested output is asked
// for as binary data (binary_data_output for the rest), so nothing is
// converted to text on either side. `parameters` (the request's own, for
// the backend) travel as string values.
encoded_infer_request encode_infer_request(
    std::string_view id, const std::vector<tensor>& inputs, const std::vector<std::string>& requested_outputs,
    const std::vector<std::pair<std::string, std::string>>& parameters = {});

struct decoded_infer_response {
  std::string id;
  // Binary outputs are views into the body (owner: the body).
  std::vector<tensor> outputs;
};

// An infer response's JSON header and binary section, as encode_infer_response
// writes them (JSON "data" or binary_data_size per output). Failures are
// invalid_argument naming the output.
std::variant<decoded_infer_response, error> decode_infer_response(std::shared_ptr<const std::string> body,
                                                                  std::optional<std::size_t> json_length);

// {"error":"<message>"}, the body of every KServe v2 error response.
std::string encode_error(std::string_view message);

// IEEE 754 binary16 and bfloat16, which JSON can only carry as ordinary
// numbers. Narrowing rounds to nearest, ties to even; a finite value beyond
// the type's range becomes infinity (the decoder rejects it instead).
std::uint16_t fp16_from_double(double value);
double fp16_to_double(std::uint16_t bits);
std::uint16_t bf16_from_double(double value);
double bf16_to_double(std::uint16_t bits);

}  // namespace surge::http
