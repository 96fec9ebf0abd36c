#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "config/model_config.pb.h"
#include "router/model_version.hpp"

namespace surge {

// Runs a version's model_warmup requests (Triton's field: `count` requests
// of `batch_size` rows, inputs of zeros, random values or a file of
// <model>/warmup/) through the version itself, one after another, before it
// is published: the first requests it serves find the backend warm. Blocks;
// the registry's loader thread calls it. The error names the warm-up.
std::optional<std::string> warm_up(model_version& version, const config::ModelConfig& config,
                                   const std::filesystem::path& model_directory);

}  // namespace surge
