#pragma once

// What every place that accepts a request for a model checks before it
// queues it (`surge serve`'s model versions, `surge worker`): the request
// against the model's configuration, then the reshape the backend expects.

#include <optional>

#include "config/model_config.pb.h"
#include "core/inference_request.hpp"
#include "core/status.hpp"

namespace surge {

// Validates inputs and requested outputs against the model configuration
// (unknown or missing inputs, datatypes, shapes, batch size, outputs).
std::optional<error> validate_request(const config::ModelConfig& config, const inference_request& request);

// Clients send the config's dims; the backend sees reshape.shape. Call
// after validate_request.
void apply_reshape(const config::ModelConfig& config, inference_request& request);

}  // namespace surge
