#include <algorithm>
#include <set>
#include <string>
#include <string_view>

#include "config/validation.hpp"

namespace surge::config_validation {
namespace {

template <typename Dims>
void check_dims(problem_list& problems, std::string_view field, std::string_view what, const Dims& dims) {
  for (const auto dim : dims) {
    if (dim <= 0 && dim != -1) {
      problems.add(field, std::string(what) + " has dimension " + std::to_string(dim) + "; each must be > 0 or -1");
    }
  }
}

// Inputs and outputs share the checks; `kind` is "input" or "output".
template <typename Tensors>
void check_tensors(problem_list& problems, std::string_view kind, const Tensors& tensors) {
  const std::string field(kind);
  if (tensors.empty()) {
    problems.add(field, "at least one " + field + " is required");
    return;
  }
  std::set<std::string_view> seen;
  for (const auto& tensor : tensors) {
    const auto what = field + " " + in_quotes(tensor.name());
    if (tensor.name().empty()) {
      problems.add(field + ".name", "every " + field + " needs a name");
    } else if (!seen.insert(tensor.name()).second) {
      problems.add(field + ".name", "duplicate " + field + " name " + in_quotes(tensor.name()));
    }
    if (tensor.data_type() == config::TYPE_INVALID) {
      problems.add(field + ".data_type", what + " needs a data_type other than TYPE_INVALID");
    }
    if (tensor.dims().empty() && !tensor.has_reshape()) {
      problems.add(field + ".dims", what + " needs dims (or a reshape)");
    }
    check_dims(problems, field + ".dims", what, tensor.dims());
    if (tensor.has_reshape()) check_dims(problems, field + ".reshape.shape", what, tensor.reshape().shape());
  }
}

}  // namespace

void validate_inputs(problem_list& problems, const config::ModelConfig& config) {
  check_tensors(problems, "input", config.input());
  // Ragged batching pads a variable dim across the requests of a batch, so it
  // needs both a batch and a variable dim.
  for (const auto& input : config.input()) {
    if (!input.allow_ragged_batch()) continue;
    const auto what = "input " + in_quotes(input.name());
    const auto& dims = input.dims();
    if (std::find(dims.begin(), dims.end(), -1) == dims.end()) {
      problems.add("input.allow_ragged_batch",
                   what + " allows ragged batching but has no variable (-1) dimension to pad");
    }
    if (config.max_batch_size() <= 0) {
      problems.add("input.allow_ragged_batch", what + " allows ragged batching, which needs max_batch_size > 0");
    }
    if (input.has_reshape()) {
      problems.add("input.allow_ragged_batch",
                   what + " allows ragged batching, which cannot be combined with a reshape");
    }
  }
}

void validate_outputs(problem_list& problems, const config::ModelConfig& config) {
  check_tensors(problems, "output", config.output());
}

}  // namespace surge::config_validation
