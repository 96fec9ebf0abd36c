#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "core/response_sink.hpp"
#include "core/status.hpp"
#include "metrics/registry.hpp"
#include "router/model_registry.hpp"

namespace surge::score {

// One model of a repository served in this process the way `surge serve`
// serves it: the same registry, loaders, dynamic batcher and backend, with
// the models an ensemble runs loaded before it. Nothing listens.
class in_process_model {
 public:
  using answer = std::variant<inference_response, error>;

  // Loads `model` (and what it depends on) from the repository; the error
  // names the model and why it did not load.
  static std::variant<std::unique_ptr<in_process_model>, error> load(const std::filesystem::path& repository,
                                                                     const std::string& model,
                                                                     std::optional<std::int64_t> version,
                                                                     const std::filesystem::path& backend_directory);
  ~in_process_model();
  in_process_model(const in_process_model&) = delete;
  in_process_model& operator=(const in_process_model&) = delete;

  const config::ModelConfig& config() const { return version_->config(); }
  std::int64_t version() const { return version_->version(); }

  // Submits one request; `done` runs exactly once, on a scheduler or
  // instance thread, with the answer or why there is none. Must not block.
  void infer(std::vector<tensor> inputs, std::function<void(answer)> done);

 private:
  in_process_model();

  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  metrics::registry metrics_;
  std::unique_ptr<model_registry> models_;
  std::shared_ptr<model_version> version_;
  std::thread io_thread_;
  std::uint64_t next_id_{0};
};

}  // namespace surge::score
