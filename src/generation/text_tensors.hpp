#pragma once

#include <string>
#include <variant>

#include "core/inference_request.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"

namespace surge {

// A generative model's tensor interface, for clients that speak tensors
// (gRPC ModelStreamInfer): the prompt is the first element of a BYTES
// `text_input`, each streamed piece a BYTES `text_output` of one element.
std::variant<std::string, error> prompt_from_tensor(const inference_request& request);
tensor text_tensor(const std::string& text);

}  // namespace surge
