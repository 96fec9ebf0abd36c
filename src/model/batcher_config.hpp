#pragma once

#include "config/model_config.pb.h"
#include "scheduler/batcher_options.hpp"

namespace surge {

// The dynamic batcher's options from a model's dynamic_batching section
// (without one, every request runs alone, as in Triton).
batcher_options batcher_options_from(const config::ModelConfig& config);

}  // namespace surge
