#pragma once

// KServe v2 (Open Inference Protocol) infer request bodies over HTTP/JSON,
// with Triton's binary tensor data extension: a JSON header whose length
// travels in the Inference-Header-Content-Length HTTP header, followed by the
// raw tensor bytes of every tensor that carries a "binary_data_size".
// Decoded by servers; encoded by what forwards requests (the Redis Streams
// gateway, upstream instances, surge bench).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/shared_memory_ref.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"

namespace surge::wire {

struct requested_output {
  std::string name;
  // Already resolved: the output's own "binary_data" parameter when given,
  // else the request's "binary_data_output".
  bool binary{false};
  // parameters.classification: answer the top this many classes per row
  // (Triton's classification extension); 0: the tensor itself.
  std::uint32_t classification{0};
  // Written into this shared-memory region instead of the response body.
  std::optional<shared_memory_ref> shared_memory{};
};

struct decoded_infer_request {
  std::string id;  // the "id" field; empty when absent
  // Binary inputs are views into the body (owner: the body); JSON inputs are
  // converted into buffers of their own. Views may be unaligned for their type.
  std::vector<tensor> inputs;
  // Inputs whose bytes are in shared memory: index into `inputs` (whose
  // data is empty until the frontend reads the region) and where they are.
  std::vector<std::pair<std::size_t, shared_memory_ref>> shared_memory_inputs;
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

}  // namespace surge::wire
