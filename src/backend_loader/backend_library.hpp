#pragma once

// The server's side of include/surge/backend.h: loading a backend library,
// creating models and instances from it, and running batches through it.
// Nothing here knows a framework; everything crosses the C ABI.

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

#include "core/data_type.hpp"
#include "core/status.hpp"
#include "core/tensor.hpp"
#include "surge/backend.h"

namespace surge {

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
};

// One dlopen'ed backend. Shared: every model and instance made from it holds
// a reference, so the code they call stays mapped until the last one is gone.
class backend_library {
 public:
  // The functions every backend exports, resolved at load.
  struct functions {
    decltype(&::surge_backend_api_version) api_version;
    decltype(&::surge_error_code_of) error_code_of;
    decltype(&::surge_error_message) error_message;
    decltype(&::surge_error_delete) error_delete;
    decltype(&::surge_model_create) model_create;
    decltype(&::surge_model_delete) model_delete;
    decltype(&::surge_instance_create) instance_create;
    decltype(&::surge_instance_delete) instance_delete;
    decltype(&::surge_instance_execute) instance_execute;
    // Generative backends (ABI 1.1) export these too; all null otherwise.
    decltype(&::surge_generation_info_get) generation_info_get;
    decltype(&::surge_generation_tokenize) generation_tokenize;
    decltype(&::surge_generation_detokenize) generation_detokenize;
    decltype(&::surge_sequence_prefill) sequence_prefill;
    decltype(&::surge_sequence_step) sequence_step;
    decltype(&::surge_sequence_release) sequence_release;
  };

  // Loads <backend_dir>/libsurge_backend_<name>.so.
  static std::variant<std::shared_ptr<backend_library>, error> load(const std::filesystem::path& backend_dir,
                                                                    std::string_view name);
  // Loads a library by path; `name` is used in messages.
  static std::variant<std::shared_ptr<backend_library>, error> load_file(const std::filesystem::path& path,
                                                                         std::string_view name);

  static std::filesystem::path library_path(const std::filesystem::path& backend_dir, std::string_view name);

  ~backend_library();
  backend_library(const backend_library&) = delete;
  backend_library& operator=(const backend_library&) = delete;

  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }
  std::pair<std::uint32_t, std::uint32_t> api_version() const { return api_version_; }
  const functions& fn() const { return fn_; }
  // True when every generative function is exported.
  bool generative() const;

  // Turns an error returned by this library into a surge::error and releases
  // it with the library's own surge_error_delete. NULL gives internal with
  // `context` as the message (a backend must not fail without saying why).
  error take_error(surge_error* raw, std::string_view context) const;

 private:
  backend_library(std::string name, std::filesystem::path path, void* handle);

  std::string name_;
  std::filesystem::path path_;
  void* handle_;
  functions fn_{};
  std::pair<std::uint32_t, std::uint32_t> api_version_{0, 0};
};

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

  // Generative models only (library()->generative()). Thread-safe.
  std::variant<surge_generation_info, error> generation_info() const;
  std::variant<std::vector<std::int32_t>, error> tokenize(std::string_view text) const;
  std::variant<std::string, error> detokenize(std::span<const std::int32_t> tokens) const;

 private:
  backend_model(std::shared_ptr<backend_library> library, backend_model_spec spec, surge_model* handle);

  std::shared_ptr<backend_library> library_;
  backend_model_spec spec_;
  surge_model* handle_;
};

// One execution instance. Move-only; the backend calls each instance from one
// thread at a time, so execute() must not be called concurrently on one handle.
class backend_instance_handle {
 public:
  static std::variant<backend_instance_handle, error> create(std::shared_ptr<backend_model> model,
                                                             std::uint32_t index);
  ~backend_instance_handle();
  backend_instance_handle(backend_instance_handle&& other) noexcept;
  backend_instance_handle& operator=(backend_instance_handle&& other) noexcept;
  backend_instance_handle(const backend_instance_handle&) = delete;
  backend_instance_handle& operator=(const backend_instance_handle&) = delete;

  // Runs one batch. `inputs` are lent to the backend for the call only; the
  // outputs own fresh buffers, one per declared output of the model.
  std::variant<std::vector<tensor>, error> execute(const std::vector<tensor>& inputs);

  // Generative models only; see backend.h for what each call does. `logits`
  // holds vocab_size floats per sequence.
  std::optional<error> prefill(std::uint32_t slot, std::span<const std::int32_t> tokens, std::span<float> logits);
  std::optional<error> step(std::span<const std::uint32_t> slots, std::span<const std::int32_t> tokens,
                            std::span<const std::uint32_t> positions, std::span<float> logits);
  void release(std::uint32_t slot);

  std::uint32_t index() const { return index_; }
  const std::shared_ptr<backend_model>& model() const { return model_; }

 private:
  backend_instance_handle(std::shared_ptr<backend_model> model, std::uint32_t index, surge_instance* handle);
  void reset() noexcept;

  std::shared_ptr<backend_model> model_;
  std::uint32_t index_{0};
  surge_instance* handle_{nullptr};
};

}  // namespace surge
