#pragma once

#include <cstdint>
#include <filesystem>

#include "backend_loader/backend_library.hpp"
#include "config/model_config.pb.h"

namespace surge {

// What the backend is told about one version of a model: the config's
// tensors (reshaped where the config says so), parameters and file name.
// Shared by `surge serve` and `surge worker`, which load models the same way.
backend_model_spec backend_spec_from(const config::ModelConfig& config, const std::filesystem::path& model_directory,
                                     std::int64_t version);

// Instances the config's instance groups ask for (at least 1).
std::uint32_t instance_count(const config::ModelConfig& config);

}  // namespace surge
