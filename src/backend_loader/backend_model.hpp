#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "backend_loader/backend_library.hpp"
#include "core/data_type.hpp"
#include "core/status.hpp"

namespace surge {

namespace metrics {
class registry;
}

// A declared input or output of a model. dims exclude the batch dimension
// when the model batches; -1 marks a variable dimension.
struct tensor_spec {
  std::string name;
  data_type type{data_type::invalid};
  std::vector<std::int64_t> dims;
};

// What a backend is told about a model, independent of how the configuration
// was parsed.
struct backend_model_spec {
  std::string model_name;
  std::int64_t version{0};
  std::filesystem::path version_directory;  // <repository>/<model>/<version>
  std::uint32_t max_batch_size{0};          // 0: the model does not batch
  std::vector<tensor_spec> inputs;
  std::vector<tensor_spec> outputs;
  std::vector<std::pair<std::string, std::string>> parameters;
  std::string default_model_filename;  // empty: the backend's default
  bool decoupled{false};               // model_transaction_policy.decoupled
};

// Generation limits as a backend reports them (surge_generation_info_set).
struct generation_info {
  std::int64_t max_sequences{0};
  std::int64_t max_context{0};
  std::int64_t vocab_size{0};
  std::int64_t eos_token{-1};
  std::int64_t bos_token{-1};
};

// Lets the backend fill in what `spec` leaves out (surge_model_autocomplete):
// inputs and outputs the config does not declare, max_batch_size when it is
// 0. Nothing when the library does not export the function.
std::optional<error> autocomplete(const std::shared_ptr<backend_library>& library, backend_model_spec& spec);

// A model loaded by a backend. Shared by its instances, which must not
// outlive it.
class backend_model {
 public:
  static std::variant<std::shared_ptr<backend_model>, error> create(std::shared_ptr<backend_library> library,
                                                                    backend_model_spec spec);
  ~backend_model();
  backend_model(const backend_model&) = delete;
  backend_model& operator=(const backend_model&) = delete;

  const backend_model_spec& spec() const { return spec_; }
  const std::shared_ptr<backend_library>& library() const { return library_; }
  surge_model* handle() const { return handle_; }

  // SURGE_CAPABILITY_* flags the backend declared at load.
  std::uint64_t capabilities() const { return capabilities_; }
  bool decoupled() const { return (capabilities_ & SURGE_CAPABILITY_DECOUPLED) != 0; }
  bool short_execute() const { return (capabilities_ & SURGE_CAPABILITY_SHORT_EXECUTE) != 0; }

  // The backend's own statistics (surge_model_statistics); empty when it
  // exports none. Thread-safe.
  std::variant<std::vector<std::pair<std::string, double>>, error> statistics() const;
  // Shows statistics() in /metrics as surge_backend_statistic{model,version,name}
  // until this model is destroyed. Nothing when the backend exports none.
  void publish_statistics(metrics::registry& registry);

  // Generative models only (library()->generative()). Thread-safe.
  std::variant<generation_info, error> generation_info_of() const;
  std::variant<std::vector<std::int32_t>, error> tokenize(std::string_view text) const;
  std::variant<std::string, error> detokenize(std::span<const std::int32_t> tokens) const;

 private:
  backend_model(std::shared_ptr<backend_library> library, backend_model_spec spec, surge_model* handle,
                std::uint64_t capabilities);

  std::shared_ptr<backend_library> library_;
  backend_model_spec spec_;
  surge_model* handle_;
  std::uint64_t capabilities_;
  // Unregisters the statistics collector before the model goes.
  std::shared_ptr<void> published_statistics_;
};

}  // namespace surge
