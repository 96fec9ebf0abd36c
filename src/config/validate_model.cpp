#include <filesystem>
#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

void validate_name(problem_list& problems, const config::ModelConfig& config, std::string_view directory_name) {
  if (config.name() != directory_name) {
    problems.add("name", in_quotes(config.name()) + " does not match the model directory " + in_quotes(directory_name));
  }
}

void validate_backend(problem_list& problems, const config::ModelConfig& config) {
  // An upstream API executes the model; nothing is loaded here. An
  // ensemble's steps are other models (validate_ensemble.cpp), and so is what
  // scores a features model's vector (validate_features.cpp).
  if (!config.backend().empty() || config.has_upstream() || config.platform() == "ensemble" ||
      config.platform() == "features") {
    return;
  }
  if (config.platform().empty()) {
    problems.add("backend", "a backend (or platform \"pytorch_libtorch\") is required");
  } else {
    problems.add("platform", in_quotes(config.platform()) + " is not supported; set backend instead");
  }
}

void validate_max_batch_size(problem_list& problems, const config::ModelConfig& config) {
  if (config.max_batch_size() < 0) {
    problems.add("max_batch_size", "must be >= 0, got " + std::to_string(config.max_batch_size()));
  }
}

namespace {

bool is_plain_file_name(const std::string& filename) {
  return filename.find('/') == std::string::npos && filename.find('\\') == std::string::npos && filename != "." &&
         filename != ".." && !std::filesystem::path(filename).is_absolute();
}

}  // namespace

// A path here could reach outside the version (or model) directory.
void validate_default_model_filename(problem_list& problems, const config::ModelConfig& config) {
  const auto& filename = config.default_model_filename();
  if (!filename.empty() && !is_plain_file_name(filename)) {
    problems.add("default_model_filename", in_quotes(filename) + " must be a file name, not a path");
  }
  for (const auto& output : config.output()) {
    if (!output.label_filename().empty() && !is_plain_file_name(output.label_filename())) {
      problems.add("output.label_filename", "output " + in_quotes(output.name()) + ": " +
                                                in_quotes(output.label_filename()) + " must be a file name, not a path");
    }
  }
}

}  // namespace surge::config_validation
