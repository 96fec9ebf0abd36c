#pragma once

// The server's side of include/surge/backend.h: loading a backend library,
// creating models and instances from it (backend_model.hpp,
// backend_instance.hpp) and running batches through it. Nothing here knows a
// framework; everything crosses the C ABI.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/status.hpp"
#include "surge/backend.h"

struct surge_backend;

namespace surge {

// One dlopen'ed backend. Shared: every model and instance made from it holds
// a reference, so the code they call stays mapped until the last one is gone.
// One object per library file: loading a library that is already loaded
// returns the same object, so surge_backend_initialize runs once before its
// first model and surge_backend_finalize once after its last.
class backend_library {
 public:
  // The functions a backend exports, resolved at load.
  struct functions {
    decltype(&::surge_backend_api_version) api_version;
    decltype(&::surge_model_create) model_create;
    decltype(&::surge_model_delete) model_delete;
    decltype(&::surge_instance_create) instance_create;
    decltype(&::surge_instance_delete) instance_delete;
    decltype(&::surge_instance_execute) instance_execute;
    // Optional; null when not exported.
    decltype(&::surge_backend_initialize) backend_initialize;
    decltype(&::surge_backend_finalize) backend_finalize;
    decltype(&::surge_model_autocomplete) model_autocomplete;
    decltype(&::surge_model_statistics) model_statistics;
    // Generative backends export all of these; null otherwise.
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
  // The handle the backend's optional exports receive.
  surge_backend* handle() const { return backend_.get(); }

  // Turns an error returned by this library into a surge::error and releases
  // it. NULL gives internal with `context` as the message (a backend must not
  // fail without saying why).
  error take_error(surge_error* raw, std::string_view context) const;

 private:
  backend_library(std::string name, std::filesystem::path path, void* handle);

  std::string name_;
  std::filesystem::path path_;
  void* handle_;
  functions fn_{};
  std::pair<std::uint32_t, std::uint32_t> api_version_{0, 0};
  std::unique_ptr<surge_backend> backend_;
  bool initialized_{false};
};

}  // namespace surge
