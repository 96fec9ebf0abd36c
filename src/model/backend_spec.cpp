#include "model/backend_spec.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <string>

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

// Adds to `declared` (config inputs or outputs) what the backend added to `completed`.
template <typename Declared>
void merge_tensors(Declared& declared, const std::vector<tensor_spec>& completed) {
  for (const auto& t : completed) {
    const bool known =
        std::any_of(declared.begin(), declared.end(), [&](const auto& existing) { return existing.name() == t.name; });
    if (known) continue;
    auto& added = *declared.Add();
    added.set_name(t.name);
    added.set_data_type(to_config_data_type(t.type));
    for (const auto dim : t.dims) added.add_dims(dim);
  }
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
  spec.decoupled = config.model_transaction_policy().decoupled();
  return spec;
}

std::uint32_t instance_count(const config::ModelConfig& config) {
  std::uint32_t count = 0;
  for (const auto& group : config.instance_group()) count += static_cast<std::uint32_t>(std::max(1, group.count()));
  return std::max<std::uint32_t>(count, 1);
}

config_completion backend_config_completion(std::filesystem::path backend_directory) {
  auto opened = std::make_shared<std::map<std::string, std::shared_ptr<backend_library>>>();
  return [backend_directory = std::move(backend_directory), opened](
             config::ModelConfig& config, const std::filesystem::path& model_dir) -> std::optional<std::string> {
    if (config.backend().empty() || config.has_worker_pool() || config.has_upstream()) return std::nullopt;
    const auto versions = select_versions(config, model_dir);
    if (versions.empty()) return std::nullopt;  // the repository scan reports it
    auto& library = (*opened)[config.backend()];
    if (!library) {
      auto loaded = backend_library::load(backend_directory, config.backend());
      if (std::holds_alternative<error>(loaded)) return std::nullopt;  // the model's load reports it
      library = std::get<std::shared_ptr<backend_library>>(std::move(loaded));
    }
    if (library->fn().model_autocomplete == nullptr) return std::nullopt;

    auto spec = backend_spec_from(config, model_dir, versions.back());
    if (auto failure = autocomplete(library, spec)) return "backend: " + failure->message;
    merge_tensors(*config.mutable_input(), spec.inputs);
    merge_tensors(*config.mutable_output(), spec.outputs);
    if (config.max_batch_size() == 0 && spec.max_batch_size > 0) {
      config.set_max_batch_size(static_cast<std::int32_t>(spec.max_batch_size));
    }
    return std::nullopt;
  };
}

}  // namespace surge
