#include "model/request_checks.hpp"

#include "config/model_config.hpp"
#include "core/client_text.hpp"

namespace surge {

namespace {

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

template <typename Dims>
std::string dims_string(const Dims& dims) {
  return shape_string(std::vector<std::int64_t>(dims.begin(), dims.end()));
}

}  // namespace

std::optional<error> validate_request(const config::ModelConfig& config, const inference_request& request) {
  const bool batching = config.max_batch_size() > 0;
  const auto invalid = [](std::string message) { return make_error(error_code::invalid_argument, std::move(message)); };
  std::optional<std::int64_t> batch_rows;

  for (std::size_t i = 0; i < request.inputs.size(); ++i) {
    const auto& input = request.inputs[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (request.inputs[j].name == input.name) {
        return invalid("input '" + client_text(input.name) + "' is given twice");
      }
    }
    const config::ModelInput* spec = nullptr;
    for (const auto& candidate : config.input()) {
      if (candidate.name() == input.name) spec = &candidate;
    }
    if (!spec) return invalid("unknown input '" + client_text(input.name) + "' for model '" + config.name() + "'");

    const auto expected_type = to_data_type(spec->data_type());
    if (input.type != expected_type) {
      return invalid("input '" + client_text(input.name) + "': datatype " + std::string(kserve_name(input.type)) +
                     " does not match the model's " + std::string(kserve_name(expected_type)));
    }

    const auto& dims = spec->dims();
    const std::size_t offset = batching ? 1 : 0;
    const auto expected = (batching ? "[-1," + dims_string(dims).substr(1) : dims_string(dims));
    bool shape_ok = input.shape.size() == static_cast<std::size_t>(dims.size()) + offset;
    for (std::size_t d = 0; shape_ok && d < static_cast<std::size_t>(dims.size()); ++d) {
      if (dims[static_cast<int>(d)] != -1 && dims[static_cast<int>(d)] != input.shape[d + offset]) shape_ok = false;
    }
    if (!shape_ok) {
      return invalid("input '" + client_text(input.name) + "': shape " + shape_string(input.shape) +
                     " does not match the model's " + (dims.empty() && batching ? std::string("[-1]") : expected));
    }
    if (batching) {
      const auto rows = input.shape[0];
      if (rows < 1 || rows > config.max_batch_size()) {
        return invalid("input '" + client_text(input.name) + "': batch size " + std::to_string(rows) +
                       " is outside 1.." +
                       std::to_string(config.max_batch_size()) + " (max_batch_size)");
      }
      if (batch_rows && *batch_rows != rows) {
        return invalid("input '" + client_text(input.name) + "': batch size " + std::to_string(rows) +
                       " differs from the other inputs' " + std::to_string(*batch_rows));
      }
      batch_rows = rows;
    }
  }

  for (const auto& spec : config.input()) {
    if (spec.optional()) continue;
    bool present = false;
    for (const auto& input : request.inputs) present = present || input.name == spec.name();
    if (!present) return invalid("missing input '" + spec.name() + "' for model '" + config.name() + "'");
  }

  for (const auto& name : request.requested_outputs) {
    bool known = false;
    for (const auto& spec : config.output()) known = known || spec.name() == name;
    if (!known) return invalid("unknown output '" + client_text(name) + "' for model '" + config.name() + "'");
  }
  return std::nullopt;
}

void apply_reshape(const config::ModelConfig& config, inference_request& request) {
  for (auto& input : request.inputs) {
    for (const auto& spec : config.input()) {
      if (spec.name() != input.name || !spec.has_reshape()) continue;
      std::vector<std::int64_t> shape;
      if (config.max_batch_size() > 0) shape.push_back(input.shape[0]);
      shape.insert(shape.end(), spec.reshape().shape().begin(), spec.reshape().shape().end());
      input.shape = std::move(shape);
    }
  }
}

}  // namespace surge
