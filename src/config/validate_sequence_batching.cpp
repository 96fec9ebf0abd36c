#include <algorithm>
#include <set>
#include <string>

#include "config/validation.hpp"

namespace surge::config_validation {

namespace {

using control = config::ModelSequenceBatching::Control;

bool corrid_type(config::DataType type) {
  return type == config::TYPE_UINT64 || type == config::TYPE_INT64 || type == config::TYPE_UINT32 ||
         type == config::TYPE_INT32 || type == config::TYPE_STRING;
}

void validate_control(problem_list& problems, const std::string& field, const control& c) {
  if (c.kind() == control::CONTROL_SEQUENCE_CORRID) {
    if (!corrid_type(c.data_type())) {
      problems.add(field + ".data_type",
                   "a CONTROL_SEQUENCE_CORRID tensor is TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 or TYPE_STRING");
    }
    if (c.int32_false_true_size() + c.fp32_false_true_size() + c.bool_false_true_size() > 0) {
      problems.add(field, "a CONTROL_SEQUENCE_CORRID control carries the id; it takes no *_false_true values");
    }
    return;
  }
  const int given = (c.int32_false_true_size() > 0) + (c.fp32_false_true_size() > 0) + (c.bool_false_true_size() > 0);
  if (given != 1) {
    problems.add(field, "needs exactly one of int32_false_true, fp32_false_true and bool_false_true");
    return;
  }
  if (c.int32_false_true_size() + c.fp32_false_true_size() + c.bool_false_true_size() != 2) {
    problems.add(field, "*_false_true holds two values: the one for false, then the one for true");
  }
  if (c.data_type() != config::TYPE_INVALID) {
    problems.add(field + ".data_type", "is for CONTROL_SEQUENCE_CORRID only; the *_false_true field gives the type");
  }
}

}  // namespace

void validate_sequence_batching(problem_list& problems, const config::ModelConfig& config) {
  if (!config.has_sequence_batching()) return;
  const auto& sequence = config.sequence_batching();
  if (config.has_generation() || config.has_worker_pool() || config.has_upstream() || config.platform() == "features") {
    problems.add("sequence_batching", "runs an in-process backend; it cannot be combined with generation, "
                                      "worker_pool, upstream or a features model");
  }
  if (sequence.has_oldest()) {
    const auto& oldest = sequence.oldest();
    if (oldest.max_candidate_sequences() < 1) {
      problems.add("sequence_batching.oldest.max_candidate_sequences", "must be at least 1");
    }
    for (const auto size : oldest.preferred_batch_size()) {
      if (size < 1 || size > std::max(1, config.max_batch_size())) {
        problems.add("sequence_batching.oldest.preferred_batch_size",
                     std::to_string(size) + " is outside 1..max_batch_size");
      }
    }
  }
  std::set<std::string> names;
  for (const auto& input : config.input()) names.insert(input.name());
  for (int i = 0; i < sequence.control_input_size(); ++i) {
    const auto& input = sequence.control_input(i);
    const std::string field = "sequence_batching.control_input[" + std::to_string(i) + "]";
    if (input.name().empty()) problems.add(field + ".name", "is empty");
    if (!names.insert(input.name()).second) {
      problems.add(field + ".name", in_quotes(input.name()) + " is already an input or another control");
    }
    if (input.control_size() != 1) {
      problems.add(field + ".control", "needs exactly one control (one tensor per kind)");
      continue;
    }
    validate_control(problems, field + ".control[0]", input.control(0));
  }
}

}  // namespace surge::config_validation
