#pragma once

// The checks complete_model_config runs on a config after filling its
// defaults: one file per config section (validate_<section>.cpp), each
// adding what is wrong with its section to one list, so a load reports every
// problem at once. A new section is a new file and one line in
// model_config.cpp's list. Internal to src/config/.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/model_config.pb.h"

namespace surge::config_validation {

// Every problem, each prefixed with the config field it is about.
class problem_list {
 public:
  void add(std::string_view field, std::string message) {
    problems_.push_back(std::string(field) + ": " + std::move(message));
  }

  bool empty() const { return problems_.empty(); }

  std::string join(std::string_view source_name) const {
    std::string out(source_name);
    out += ": ";
    for (std::size_t i = 0; i < problems_.size(); ++i) {
      if (i > 0) out += "; ";
      out += problems_[i];
    }
    return out;
  }

 private:
  std::vector<std::string> problems_;
};

inline std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

using section_validator = void (*)(problem_list& problems, const config::ModelConfig& config);

// validate_model.cpp: the model's own fields. The name is checked against
// the directory the config was found in, which no other check needs.
void validate_name(problem_list& problems, const config::ModelConfig& config, std::string_view directory_name);
void validate_backend(problem_list& problems, const config::ModelConfig& config);
void validate_max_batch_size(problem_list& problems, const config::ModelConfig& config);
void validate_default_model_filename(problem_list& problems, const config::ModelConfig& config);
// Also each output's label_filename, which must name a file in the model directory.

// validate_tensors.cpp
void validate_inputs(problem_list& problems, const config::ModelConfig& config);
void validate_outputs(problem_list& problems, const config::ModelConfig& config);

// validate_version_policy.cpp
void validate_version_policy(problem_list& problems, const config::ModelConfig& config);

// validate_dynamic_batching.cpp: preferred sizes, priority levels and their queue policies.
void validate_dynamic_batching(problem_list& problems, const config::ModelConfig& config);

// validate_sequence_batching.cpp: strategy and control inputs.
void validate_sequence_batching(problem_list& problems, const config::ModelConfig& config);

// validate_generation.cpp
void validate_generation(problem_list& problems, const config::ModelConfig& config);

// validate_instance_group.cpp
void validate_instance_groups(problem_list& problems, const config::ModelConfig& config);

// validate_worker_pool.cpp: also that a model runs on a pool or an upstream, not both.
void validate_worker_pool(problem_list& problems, const config::ModelConfig& config);

// validate_upstream.cpp
void validate_upstream(problem_list& problems, const config::ModelConfig& config);

// validate_ensemble.cpp: platform "ensemble" and its steps' own fields (the
// step models are checked when the ensemble loads).
void validate_ensemble(problem_list& problems, const config::ModelConfig& config);

// validate_features.cpp: platform "features" and its windows, static
// attributes and vector (the scoring model is checked when it loads).
void validate_features(problem_list& problems, const config::ModelConfig& config);

}  // namespace surge::config_validation
