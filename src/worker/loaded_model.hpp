#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "backend_loader/backend_instance.hpp"
#include "config/model_config.pb.h"
#include "instance/in_process_instance.hpp"
#include "metrics/model_metrics.hpp"
#include "metrics/registry.hpp"

namespace surge::worker {

// One version of the model with its backend and in-process instances.
struct loaded_version {
  std::int64_t version{0};
  std::shared_ptr<backend_model> backend;
  std::unique_ptr<model_metrics> metrics;
  std::unique_ptr<model_statistics> statistics;
  std::vector<std::unique_ptr<in_process_instance>> instances;
};

// The model a worker serves, loaded from a model repository exactly as
// `surge serve` loads it: its config, every version the version policy
// selects, one backend instance thread per instance_group count.
class loaded_model {
 public:
  // Blocking: reads files and loads the backend.
  static std::variant<std::unique_ptr<loaded_model>, error> load(const std::filesystem::path& repository,
                                                                 const std::string& name,
                                                                 const std::filesystem::path& backend_directory,
                                                                 metrics::registry& metrics);
  ~loaded_model();

  const config::ModelConfig& config() const { return config_; }
  std::vector<std::int64_t> versions() const;
  // nullopt: the highest version; nullptr when the version is not loaded.
  loaded_version* find(std::optional<std::int64_t> version);

  // Runs one request of zero-filled inputs (one row, variable dims 1)
  // through every instance of every version, so the first real request
  // pays no first-call cost. Blocking.
  std::optional<error> warm_up();

  // Joins the instance threads once they finish their batch.
  void stop();

 private:
  loaded_model() = default;

  config::ModelConfig config_;
  std::vector<loaded_version> versions_;
};

// The request warm_up runs: zero-filled inputs shaped by the config.
request_ptr zero_request(const config::ModelConfig& config, std::int64_t version);

}  // namespace surge::worker
