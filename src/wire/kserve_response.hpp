#pragma once

// KServe v2 infer response bodies over HTTP/JSON (with the binary tensor
// data extension, as in kserve_request.hpp) and error bodies. Encoded by
// servers; decoded by what forwards requests and reads the answers back.

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
#include "wire/kserve_request.hpp"

namespace surge::wire {

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

}  // namespace surge::wire
