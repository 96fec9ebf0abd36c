#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model_config.pb.h"
#include "core/data_type.hpp"

namespace surge {

// Exactly one of the two is set: a usable config, or an error that names the
// file and the offending config field ("<file>: max_batch_size: must be >= 0").
struct config_load_result {
  std::optional<config::ModelConfig> config;
  std::string error;
};

// Parses config.pbtxt text without filling defaults or validating. Fields that
// are not in surge's schema fail with "<source_name>:<line>:<column>:
// unsupported field "<name>"" instead of being ignored, because a Triton option
// that silently does nothing is worse than a load error.
config_load_result parse_model_config(std::string_view text, std::string_view source_name);

// Parses a model config given as JSON (a load request's override, Triton's
// form), without filling defaults or validating; unknown fields are errors.
config_load_result parse_model_config_json(std::string_view json, std::string_view source_name);

// Fills in what a config leaves out, after the defaults and before
// validation: a backend's config auto-complete (surge_model_autocomplete).
// Given the config and its model directory; returns why it could not.
using config_completion =
    std::function<std::optional<std::string>(config::ModelConfig& config, const std::filesystem::path& model_dir)>;

// Fills the defaults load_model_config fills, runs `completion` (when given)
// on the model directory `model_dir`, then validates. `directory_name`
// is the model directory's name, which the config's name must equal;
// `source_name` prefixes every error. Kept separate from load_model_config so a
// config that does not come from a file (a load request's override) gets the
// same checks.
config_load_result complete_model_config(config::ModelConfig config, std::string_view directory_name,
                                         std::string_view source_name, const config_completion& completion = {},
                                         const std::filesystem::path& model_dir = {});

// Reads <model_dir>/config.pbtxt, parses it and completes it as above.
// Blocking file I/O: call from a loader thread, never from an I/O thread.
config_load_result load_model_config(const std::filesystem::path& model_dir,
                                     const config_completion& completion = {});

// The versions of the model to serve: the numeric subdirectories of model_dir
// that the config's version_policy selects, ascending. As in Triton, names
// that are not all digits or that start with '0' are not versions. Empty when
// none qualify or model_dir cannot be read.
std::vector<std::int64_t> select_versions(const config::ModelConfig& config, const std::filesystem::path& model_dir);

// Every numeric subdirectory of model_dir, ascending, whatever the policy.
std::vector<std::int64_t> list_version_directories(const std::filesystem::path& model_dir);

// The numeric values are shared, so these are casts checked at compile time.
data_type to_data_type(config::DataType type);
config::DataType to_config_data_type(data_type type);

}  // namespace surge
