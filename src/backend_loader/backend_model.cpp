#include "backend_loader/backend_model.hpp"

#include "backend_loader/abi_handles.hpp"
#include "metrics/registry.hpp"

namespace surge {

namespace {

bool is_valid(data_type type) { return type == data_type::bytes || element_size(type) != 0; }

surge_model_info model_info_for(const backend_library& library, backend_model_spec& spec,
                                surge_model_info::phase stage) {
  surge_model_info info;
  info.backend = library.handle();
  info.spec = &spec;
  info.version_directory = spec.version_directory.string();
  info.stage = stage;
  return info;
}

error not_generative(const backend_library& library) {
  return make_error(error_code::internal, "backend '" + library.name() + "' does not implement the generative API");
}

}  // namespace

std::optional<error> autocomplete(const std::shared_ptr<backend_library>& library, backend_model_spec& spec) {
  const auto complete = library->fn().model_autocomplete;
  if (complete == nullptr) return std::nullopt;
  auto info = model_info_for(*library, spec, surge_model_info::phase::autocomplete);
  if (surge_error* failure = complete(&info)) {
    error e = abi::take_error(failure);
    e.message = "backend '" + library->name() + "' cannot complete the config of model '" + spec.model_name +
                "': " + e.message;
    return e;
  }
  return std::nullopt;
}

// ---- backend_model --------------------------------------------------------

std::variant<std::shared_ptr<backend_model>, error> backend_model::create(std::shared_ptr<backend_library> library,
                                                                        backend_model_spec spec) {
  const std::string label = "backend '" + library->name() + "' cannot load model '" + spec.model_name + "'";
  for (const auto* list : {&spec.inputs, &spec.outputs}) {
    for (const auto& t : *list) {
      if (!is_valid(t.type)) return make_error(error_code::internal, label + ": tensor '" + t.name + "' has no type");
    }
  }

  auto info = model_info_for(*library, spec, surge_model_info::phase::create);
  surge_model* handle = nullptr;
  if (surge_error* failure = library->fn().model_create(&info, &handle)) {
    error e = abi::take_error(failure);
    e.message = label + ": " + e.message;
    return e;
  }
  if (handle == nullptr) return make_error(error_code::internal, label + ": the backend returned no model");
  const auto capabilities = info.capabilities;
  return std::shared_ptr<backend_model>(new backend_model(std::move(library), std::move(spec), handle, capabilities));
}

backend_model::backend_model(std::shared_ptr<backend_library> library, backend_model_spec spec, surge_model* handle,
                             std::uint64_t capabilities)
    : library_(std::move(library)), spec_(std::move(spec)), handle_(handle), capabilities_(capabilities) {}

backend_model::~backend_model() {
  // No collection may run into a model being deleted.
  published_statistics_.reset();
  library_->fn().model_delete(handle_);
}

std::variant<std::vector<std::pair<std::string, double>>, error> backend_model::statistics() const {
  const auto collect = library_->fn().model_statistics;
  if (collect == nullptr) return std::vector<std::pair<std::string, double>>{};
  surge_statistics statistics;
  if (surge_error* failure = collect(handle_, &statistics)) return abi::take_error(failure);
  return std::move(statistics.values);
}

void backend_model::publish_statistics(metrics::registry& registry) {
  if (library_->fn().model_statistics == nullptr) return;
  published_statistics_ = registry.add_gauge_collector(
      "surge_backend_statistic", "Values a backend reports about a model it serves (surge_model_statistics)",
      [this, model = spec_.model_name, version = std::to_string(spec_.version)](metrics::sample_list& samples) {
        // A failing backend shows nothing rather than stale values.
        auto values = statistics();
        auto* list = std::get_if<std::vector<std::pair<std::string, double>>>(&values);
        if (list == nullptr) return;
        for (auto& [name, value] : *list) {
          samples.push_back({{{"model", model}, {"version", version}, {"name", std::move(name)}}, value});
        }
      });
}

std::variant<generation_info, error> backend_model::generation_info_of() const {
  if (!library_->generative()) return not_generative(*library_);
  surge_generation_info info;
  if (surge_error* failure = library_->fn().generation_info_get(handle_, &info)) return abi::take_error(failure);
  return info.values;
}

std::variant<std::vector<std::int32_t>, error> backend_model::tokenize(std::string_view text) const {
  if (!library_->generative()) return not_generative(*library_);
  std::vector<std::int32_t> tokens(text.size() + 8);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint32_t count = 0;
    if (surge_error* failure = library_->fn().generation_tokenize(
            handle_, text.data(), text.size(), tokens.data(), static_cast<std::uint32_t>(tokens.size()), &count)) {
      return abi::take_error(failure);
    }
    if (count <= tokens.size()) {
      tokens.resize(count);
      return tokens;
    }
    tokens.resize(count);
  }
  return make_error(error_code::internal, "backend '" + library_->name() + "' changed its token count between calls");
}

std::variant<std::string, error> backend_model::detokenize(std::span<const std::int32_t> tokens) const {
  if (!library_->generative()) return not_generative(*library_);
  std::string text(tokens.size() * 8 + 16, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint64_t length = 0;
    if (surge_error* failure = library_->fn().generation_detokenize(
            handle_, tokens.data(), static_cast<std::uint32_t>(tokens.size()), text.data(), text.size(), &length)) {
      return abi::take_error(failure);
    }
    if (length <= text.size()) {
      text.resize(length);
      return text;
    }
    text.resize(length);
  }
  return make_error(error_code::internal, "backend '" + library_->name() + "' changed its text length between calls");
}

}  // namespace surge
