#pragma once

#include <cstdint>
#include <filesystem>

#include "backend_loader/backend_model.hpp"
#include "config/model_config.hpp"

namespace surge {

// What the backend is told about one version of a model: the config's
// tensors (reshaped where the config says so), parameters and file name.
// Shared by `surge serve` and `surge worker`, which load models the same way.
backend_model_spec backend_spec_from(const config::ModelConfig& config, const std::filesystem::path& model_directory,
                                     std::int64_t version);

// Instances the config's instance groups ask for (at least 1).
std::uint32_t instance_count(const config::ModelConfig& config);

// Config auto-complete by the model's backend: for a model this process
// runs with a backend that exports surge_model_autocomplete, the backend
// sees the config (with the highest version the policy selects) and may add
// the inputs and outputs it leaves out, and max_batch_size when it is 0;
// those are merged into the config before it is validated. Libraries it
// opens stay loaded as long as the returned function (so the models loaded
// next share them). A library that does not load is left for the model's
// load to report.
config_completion backend_config_completion(std::filesystem::path backend_directory);

}  // namespace surge
