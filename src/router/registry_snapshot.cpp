#include "router/registry_snapshot.hpp"

namespace surge {

const registered_model* registry_snapshot::find(std::string_view name) const {
  const auto it = models.find(name);
  return it == models.end() ? nullptr : it->second.get();
}

std::shared_ptr<model_version> registry_snapshot::find_version(std::string_view name,
                                                               std::optional<std::int64_t> version,
                                                               std::string_view routing_key) const {
  const auto* model = find(name);
  if (!model || model->versions.empty()) return nullptr;
  if (!version && model->traffic) {
    if (const auto split = model->traffic->get()) {
      const auto loaded = [model](std::int64_t v) { return model->versions.contains(v); };
      version = split->pick(loaded, routing_key);
    }
  }
  if (!version) return model->versions.rbegin()->second;
  const auto it = model->versions.find(*version);
  return it == model->versions.end() ? nullptr : it->second;
}

}  // namespace surge
