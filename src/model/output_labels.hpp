#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "config/model_config.pb.h"
#include "core/status.hpp"

namespace surge {

// Class labels of a model's outputs, from each output's label_filename (a
// file in the model directory, line i naming class i). Output name -> labels.
using output_labels = std::map<std::string, std::vector<std::string>, std::less<>>;

// Reads every label file the config names. Blocking file I/O: a loader
// thread's work. An unreadable file is an error naming the output and file.
std::variant<output_labels, error> read_output_labels(const config::ModelConfig& config,
                                                      const std::filesystem::path& model_directory);

}  // namespace surge
