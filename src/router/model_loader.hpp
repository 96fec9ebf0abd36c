#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "config/model_config.pb.h"
#include "core/status.hpp"
#include "metrics/registry.hpp"
#include "router/model_version.hpp"
#include "router/registry_snapshot.hpp"

namespace surge {

// What a loader is given to load one version of one model.
struct load_context {
  boost::asio::any_io_executor io;  // where schedulers and remote instances run
  metrics::registry& metrics;
  std::filesystem::path model_directory;  // <repository>/<model>
  std::int64_t version{0};
  // The models served when this one loads; its dependencies are among them.
  std::shared_ptr<const registry_snapshot> loaded;
};

// Makes the model versions of one kind (a backend in this process, a
// generative model, a remote pool, ...). The registry asks its loaders in
// the order they were added and uses the first that handles a config, so a
// new kind is a new loader added before the general ones; the registry
// itself knows no kind.
class model_loader {
 public:
  virtual ~model_loader() = default;

  virtual bool handles(const config::ModelConfig& config) const = 0;

  // Models that must be served before this one loads (an ensemble's steps).
  virtual std::vector<std::string> dependencies(const config::ModelConfig& config) const { return {}; }

  // Loads one version and starts it (model_version::start). Runs on a
  // loader thread, never an I/O thread: blocking work (dlopen, reading
  // files, initialising a backend) belongs here.
  virtual std::variant<std::shared_ptr<model_version>, error> load(const config::ModelConfig& config,
                                                                   const load_context& context) = 0;
};

}  // namespace surge
