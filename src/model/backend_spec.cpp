#include "model/backend_spec.hpp"

#include <algorithm>

#include "config/model_config.hpp"

namespace surge {

namespace {

template <typename Specs>
std::vector<tensor_spec> tensor_specs(const Specs& specs) {
  std::vector<tensor_spec> out;
  for (const auto& spec : specs) {
    tensor_spec t{spec.name(), to_data_type(spec.data_type()), {spec.dims().begin(), spec.dims().end()}};
    // The backend sees the reshaped tensor.
    if (spec.has_reshape()) t.dims.assign(spec.reshape().shape().begin(), spec.reshape().shape().end());
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

backend_model_spec backend_spec_from(const config::ModelConfig& config, const std::filesystem::path& model_directory,
                                     std::int64_t version) {
  backend_model_spec spec;
  spec.model_name = config.name();
  spec.version = version;
  spec.version_directory = model_directory / std::to_string(version);
  spec.max_batch_size = static_cast<std::uint32_t>(std::max(0, config.max_batch_size()));
  spec.inputs = tensor_specs(config.input());
  spec.outputs = tensor_specs(config.output());
  for (const auto& [key, value] : config.parameters()) spec.parameters.emplace_back(key, value.string_value());
  spec.default_model_filename = config.default_model_filename();
  return spec;
}

std::uint32_t instance_count(const config::ModelConfig& config) {
  std::uint32_t count = 0;
  for (const auto& group : config.instance_group()) count += static_cast<std::uint32_t>(std::max(1, group.count()));
  return std::max<std::uint32_t>(count, 1);
}

}  // namespace surge
