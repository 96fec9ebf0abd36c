#include "backend_loader/backend_library.hpp"

#include <dlfcn.h>

#include <iostream>
#include <map>
#include <mutex>
#include <system_error>

#include "backend_loader/abi_handles.hpp"

namespace surge {
namespace {

// Every loaded library, so that a second load of the same file shares the
// first one's object (and its one surge_backend_initialize). Libraries are
// created and destroyed under the lock, so a finalize never overlaps the
// initialize of the same library loaded again.
struct loaded_libraries {
  // Recursive: a library that fails to load is destroyed (its deleter locks)
  // while load_file still holds the lock.
  std::recursive_mutex mutex;
  std::map<std::filesystem::path, std::weak_ptr<backend_library>> by_path;  // guarded by mutex
};

loaded_libraries& libraries() {
  // Never destroyed: a library released during exit still finds it.
  static auto* instance = new loaded_libraries;
  return *instance;
}

std::string version_string(std::uint32_t major, std::uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// The symbol a failed dlopen names when a backend calls a server function
// this program does not export: "undefined symbol: surge_...".
std::string dlopen_hint(const std::string& why) {
  const std::string marker = "undefined symbol: surge_";
  const auto at = why.find(marker);
  if (at == std::string::npos) return {};
  auto symbol = why.substr(at + marker.size() - 6);
  if (const auto end = symbol.find_first_of(" ,\n"); end != std::string::npos) symbol.resize(end);
  return " (the backend calls server function '" + symbol + "', which this server, backend API " +
         version_string(SURGE_BACKEND_API_MAJOR, SURGE_BACKEND_API_MINOR) +
         ", does not provide: it was built for a newer minor version)";
}

}  // namespace

std::filesystem::path backend_library::library_path(const std::filesystem::path& backend_dir, std::string_view name) {
  return backend_dir / ("libsurge_backend_" + std::string(name) + ".so");
}

std::variant<std::shared_ptr<backend_library>, error> backend_library::load(const std::filesystem::path& backend_dir,
                                                                           std::string_view name) {
  return load_file(library_path(backend_dir, name), name);
}

std::variant<std::shared_ptr<backend_library>, error> backend_library::load_file(const std::filesystem::path& path,
                                                                                std::string_view name) {
  const std::string label = "backend '" + std::string(name) + "'";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return make_error(error_code::not_found, label + " not found: no library at " + path.string());
  }
  // Backends bind to the server's functions when they are opened; a program
  // that does not export them (not linked with ENABLE_EXPORTS) cannot load
  // any backend, and should say so rather than report the first symbol.
  if (dlsym(RTLD_DEFAULT, "surge_error_new") == nullptr) {
    return make_error(error_code::internal,
                      label + ": cannot load " + path.string() +
                          ": this program does not export the surge server API (surge_error_new and the other "
                          "SURGE_SERVER_API functions of surge/backend.h); link it with ENABLE_EXPORTS (-rdynamic) "
                          "and the backend_loader server API objects");
  }
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  if (ec) canonical = path;

  auto& loaded = libraries();
  std::lock_guard lock(loaded.mutex);
  if (auto existing = loaded.by_path[canonical].lock()) return existing;

  // RTLD_LOCAL keeps each backend's dependencies (one libtorch, another
  // onnxruntime) from resolving against each other's symbols. RTLD_NOW
  // binds the server functions the backend calls now, so a missing one is a
  // load error instead of a crash mid-request.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    const std::string reason = why ? why : "unknown";
    return make_error(error_code::internal,
                      label + ": cannot load " + path.string() + ": " + reason + dlopen_hint(reason));
  }
  // From here the library owns the handle and closes it on every path. Its
  // deleter takes the lock, so destruction is serialized with loads.
  std::shared_ptr<backend_library> library(new backend_library(std::string(name), canonical, handle),
                                           [](backend_library* doomed) {
                                             std::lock_guard guard(libraries().mutex);
                                             delete doomed;
                                           });
  auto resolve = [&](auto& slot, const char* symbol) -> bool {
    dlerror();
    void* address = dlsym(handle, symbol);
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
    return address != nullptr;
  };
  auto& fn = library->fn_;
  const auto missing = [&](const char* symbol) {
    return make_error(error_code::internal,
                      label + " (" + path.string() + ") does not export '" + symbol + "'; is it a surge backend?");
  };

  // The version first: a library built for another major may export a
  // different set of functions, and the version says why better than a
  // missing symbol would.
  if (!resolve(fn.api_version, "surge_backend_api_version")) return missing("surge_backend_api_version");
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  fn.api_version(&major, &minor);
  library->api_version_ = {major, minor};
  if (major != SURGE_BACKEND_API_MAJOR || minor > SURGE_BACKEND_API_MINOR) {
    return make_error(error_code::internal,
                      label + " (" + path.string() + ") was built for backend API " + version_string(major, minor) +
                          ", but this server implements " +
                          version_string(SURGE_BACKEND_API_MAJOR, SURGE_BACKEND_API_MINOR) +
                          " (the major version must match and the minor must not be newer)");
  }

  const std::pair<bool, const char*> resolved[] = {
      {resolve(fn.model_create, "surge_model_create"), "surge_model_create"},
      {resolve(fn.model_delete, "surge_model_delete"), "surge_model_delete"},
      {resolve(fn.instance_create, "surge_instance_create"), "surge_instance_create"},
      {resolve(fn.instance_delete, "surge_instance_delete"), "surge_instance_delete"},
      {resolve(fn.instance_execute, "surge_instance_execute"), "surge_instance_execute"},
  };
  for (const auto& [found, symbol] : resolved) {
    if (!found) return missing(symbol);
  }
  resolve(fn.backend_initialize, "surge_backend_initialize");
  resolve(fn.backend_finalize, "surge_backend_finalize");
  resolve(fn.model_autocomplete, "surge_model_autocomplete");
  resolve(fn.model_statistics, "surge_model_statistics");
  // A backend exports all of these or is not generative.
  resolve(fn.generation_info_get, "surge_generation_info_get");
  resolve(fn.generation_tokenize, "surge_generation_tokenize");
  resolve(fn.generation_detokenize, "surge_generation_detokenize");
  resolve(fn.sequence_prefill, "surge_sequence_prefill");
  resolve(fn.sequence_step, "surge_sequence_step");
  resolve(fn.sequence_release, "surge_sequence_release");

  if (fn.backend_initialize != nullptr) {
    if (surge_error* failure = fn.backend_initialize(library->handle())) {
      auto e = abi::take_error(failure);
      e.message = label + " (" + path.string() + ") failed to initialize: " + e.message;
      return e;
    }
  }
  library->initialized_ = true;
  loaded.by_path[canonical] = library;
  return library;
}

backend_library::backend_library(std::string name, std::filesystem::path path, void* handle)
    : name_(std::move(name)), path_(std::move(path)), handle_(handle), backend_(std::make_unique<surge_backend>()) {
  backend_->name = name_;
  backend_->directory = path_.parent_path().string();
}

backend_library::~backend_library() {
  if (initialized_ && fn_.backend_finalize != nullptr) {
    if (surge_error* failure = fn_.backend_finalize(backend_.get())) {
      std::cerr << "surge: backend '" << name_ << "' failed to finalize: " << abi::take_error(failure).message
                << std::endl;
    }
  }
  dlclose(handle_);
}

bool backend_library::generative() const {
  return fn_.generation_info_get && fn_.generation_tokenize && fn_.generation_detokenize && fn_.sequence_prefill &&
         fn_.sequence_step && fn_.sequence_release;
}

error backend_library::take_error(surge_error* raw, std::string_view context) const {
  if (raw == nullptr) return make_error(error_code::internal, std::string(context));
  return abi::take_error(raw);
}

}  // namespace surge
