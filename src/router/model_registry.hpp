#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/registry.hpp"
#include "router/model_version.hpp"

namespace surge {

// The model router: name and version to a loaded model_version. Filled once
// at start-up and read-only afterwards, so lookups from I/O threads take no
// lock.
class model_registry {
 public:
  struct model_state {
    std::string name;
    std::string error;  // why the model is not served; empty when it loaded
    std::optional<config::ModelConfig> config;
    std::map<std::int64_t, std::shared_ptr<model_version>> versions;
  };

  model_registry(boost::asio::any_io_executor io, metrics::registry& metrics, std::filesystem::path backend_directory);
  ~model_registry();

  // Loads every model of a Triton-layout repository. A model that fails keeps
  // its error (shown by the repository index and metadata endpoints) and the
  // others load; the return value lists the failures.
  std::vector<std::string> load_repository(const std::filesystem::path& repository);

  const model_state* find(std::string_view name) const;
  // nullopt version: the highest loaded version.
  std::shared_ptr<model_version> find_version(std::string_view name, std::optional<std::int64_t> version) const;
  const std::map<std::string, model_state, std::less<>>& models() const { return models_; }

  // Answers whatever is queued and joins every instance thread.
  void stop_all();

 private:
  std::optional<std::string> load_version(model_state& state, const std::filesystem::path& model_directory,
                                          std::int64_t version);
  // Starts a generative version: its continuous batcher over the backend's instances.
  std::optional<std::string> start_generation(model_version& loaded, std::shared_ptr<backend_model> backend);

  boost::asio::any_io_executor io_;
  metrics::registry& metrics_;
  std::filesystem::path backend_directory_;
  std::map<std::string, model_state, std::less<>> models_;
};

}  // namespace surge
