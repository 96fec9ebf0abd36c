#include "router/registry_snapshot.hpp"

namespace surge {

const registered_model* registry_snapshot::find(std::string_view name) const {
  const auto it = models.find(name);
  return it == models.end() ? nullptr : it->second.get();
}

std::shared_ptr<model_version> registry_snapshot::find_version(std::string_view name,
                                                               std::optional<std::int64_t> version) const {
  const auto* model = find(name);
  if (!model || model->versions.empty()) return nullptr;
  if (!version) return model->versions.rbegin()->second;
  const auto it = model->versions.find(*version);
  return it == model->versions.end() ? nullptr : it->second;
}

}  // namespace surge
