#pragma once

#include <variant>
#include <vector>

#include "core/inference_request.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"

namespace surge {

// For instances that send a batch on as one request (upstream models) and
// for the gateway's answers. In-process backends get the batch's requests
// themselves (backend.h) and concatenate with backend_helpers.hpp's gather().

// Concatenates the batch's inputs along dim 0. A batch of one passes its
// tensors through without copying.
std::vector<tensor> gather_inputs(const std::vector<request_ptr>& batch);

// Splits batched outputs back into one list per request, as views that share
// the output buffers (no copy). Fails when an output's dim 0 does not equal
// the batch's total rows.
std::variant<std::vector<std::vector<tensor>>, error> scatter_outputs(const std::vector<tensor>& outputs,
                                                                       const std::vector<std::int64_t>& rows);

// Keeps the outputs a request asked for, in the order it asked; all when it
// named none.
std::vector<tensor> select_outputs(std::vector<tensor> outputs, const std::vector<std::string>& requested);

}  // namespace surge
