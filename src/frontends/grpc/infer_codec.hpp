#pragma once

// KServe v2 gRPC infer messages to and from the core's tensors. Pure
// functions on protobuf messages: no gRPC runtime, so they are unit-tested
// without a server.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/generation.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"
#include "core/shared_memory_ref.hpp"
#include "wire/grpc/grpc_service.pb.h"

namespace surge::grpc_frontend {

struct decoded_infer_request {
  std::string id;
  // Raw inputs are views into the request message (owner: what the caller
  // passed as `owner`); typed contents are converted into buffers of their
  // own. Views may be unaligned for their type.
  std::vector<tensor> inputs;
  // Inputs whose bytes are in a shared-memory region (index into `inputs`,
  // whose data stays empty until the frontend reads the region).
  std::vector<std::pair<std::size_t, shared_memory_ref>> shared_memory_inputs;
  std::vector<std::string> outputs;                  // empty: every output of the model
  // Outputs to write into a shared-memory region instead of the response.
  std::vector<std::pair<std::string, shared_memory_ref>> shared_memory_outputs;
  // Outputs with parameters["classification"] (Triton's extension): name -> classes per row.
  std::vector<std::pair<std::string, std::uint32_t>> classifications;
  std::optional<std::uint32_t> priority;             // parameters.priority; 0: the model's default, 1: highest
  std::optional<std::chrono::microseconds> timeout;  // parameters.timeout
  // parameters.triton_enable_empty_final_response: on a stream, mark the
  // last response of each request with triton_final_response.
  bool enable_empty_final_response{false};
  // Sampling parameters for generative models (max_tokens, temperature,
  // top_p, top_k, seed, stop, ignore_eos), when any was given.
  std::optional<sampling_parameters> sampling;
  // The other request parameters, for the backend: values as text
  // ("true"/"false", decimal numbers).
  std::vector<std::pair<std::string, std::string>> parameters;
};

// Every failure is error_code::invalid_argument with a message naming the
// tensor or parameter. `owner` must keep `message` alive as long as the
// returned tensors live (usually the shared_ptr that holds the message).
std::variant<decoded_infer_request, error> decode_infer_request(const inference::ModelInferRequest& message,
                                                                std::shared_ptr<const void> owner);

// Fills model name, version, id and the outputs, every one as Triton answers
// them: metadata in `outputs`, bytes in `raw_output_contents` at the same
// index. `requested` empty: every output, in the model's order; else those
// named, in the order named (a name not among `outputs` is left out; the
// router refused unknown names before the model ran).
// Outputs in `shared_memory_outputs` carry their region and byte size as
// parameters and an empty raw_output_contents entry (so indexes still line up).
void encode_infer_response(std::string_view model_name, std::int64_t model_version, std::string_view id,
                           const std::vector<tensor>& outputs, const std::vector<std::string>& requested,
                           inference::ModelInferResponse& response,
                           const std::vector<std::pair<std::string, shared_memory_ref>>& shared_memory_outputs = {});

// "" : the server's choice; "3": version 3; anything else is refused with
// invalid_argument. Shared by every RPC that names a version.
std::variant<std::optional<std::int64_t>, error> parse_model_version(std::string_view text);

// The parameter that streams set on each response when the request asked for
// triton_enable_empty_final_response.
inline constexpr std::string_view final_response_parameter = "triton_final_response";

}  // namespace surge::grpc_frontend
