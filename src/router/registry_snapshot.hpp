#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/model_config.pb.h"
#include "router/model_version.hpp"
#include "router/traffic_split.hpp"

namespace surge {

// One model as a snapshot of the registry sees it. Immutable once published.
struct registered_model {
  std::string name;
  std::string error;  // why the model is not served; empty when it loaded
  // Why the last load of a model that kept serving its earlier versions
  // failed (the repository index shows it); empty after a load that worked.
  std::string reload_error;
  std::optional<config::ModelConfig> config;
  std::map<std::int64_t, std::shared_ptr<model_version>> versions;
  // How requests naming no version are shared among the versions. The same
  // slot through loads and unloads of versions; null only for a model that
  // never loaded.
  std::shared_ptr<traffic_slot> traffic;

  bool servable() const { return error.empty() && !versions.empty(); }
};

// What the registry serves at one moment: model name to model. Immutable;
// the registry publishes a new one for every change, so a reader holding one
// sees a consistent set of models for as long as it holds it, without a lock.
struct registry_snapshot {
  std::map<std::string, std::shared_ptr<const registered_model>, std::less<>> models;

  const registered_model* find(std::string_view name) const;
  // nullopt version: the model's traffic split picks one (by `routing_key`
  // when one is given), or, without a split, the highest loaded version.
  // nullptr when there is none.
  std::shared_ptr<model_version> find_version(std::string_view name, std::optional<std::int64_t> version,
                                              std::string_view routing_key = {}) const;
};

}  // namespace surge
