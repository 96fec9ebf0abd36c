#pragma once

// Triton's classification extension: an output requested with
// parameters {"classification": k} is answered as a BYTES tensor of the k
// highest-valued classes of each batch row, "<value>:<index>[:<label>]",
// instead of the model's tensor. Formatting is done here, after the model
// answered, so every kind of model (and every frontend) gets it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/model_config.pb.h"
#include "core/inference_request.hpp"
#include "core/response_sink.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"
#include "model/output_labels.hpp"

namespace surge {

// The classes of `output`, top `count` per row, as Triton formats them: the
// value with 9 decimals for floating-point types ("0.981234014:2:virginica"),
// the index into the row, and the label when `labels` has one for it. Rows:
// dim 0 when `batched` (the model has max_batch_size > 0), else the whole
// tensor is one row. Shape [rows, min(count, row size)], or [min(count,
// size)] unbatched. Ties keep index order. invalid_argument for types that
// have no order here (BYTES, BOOL, FP16, BF16).
std::variant<tensor, error> classify(const tensor& output, std::uint32_t count, bool batched,
                                     const std::vector<std::string>* labels);

// Checks a request's classifications against the config (the output exists
// and has a type classify() orders) before it is queued.
std::optional<error> validate_classifications(const config::ModelConfig& config, const inference_request& request);

// Wraps a request's sink so that the outputs it asked to classify are
// classified on their way to the client. `labels` outlives the sink.
std::shared_ptr<response_sink> classifying_sink(std::shared_ptr<response_sink> inner,
                                                std::vector<std::pair<std::string, std::uint32_t>> classifications,
                                                bool batched, std::shared_ptr<const output_labels> labels);

}  // namespace surge
