#pragma once

// Opens tests/unit/backends/test_backend.cpp's library next to the server's
// loader, to read its counters and release the work it blocks. Holding it
// open keeps the library mapped (and its counters) across the loader's
// loads and unloads.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "backend_loader/backend_model.hpp"

namespace surge::testing {

class test_backend_control {
 public:
  static std::filesystem::path directory() { return SURGE_TEST_BACKEND_DIR; }

  test_backend_control() {
    const auto path = backend_library::library_path(directory(), "test");
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      ADD_FAILURE() << "cannot open " << path << ": " << dlerror();
      return;
    }
    counter_ = reinterpret_cast<int (*)(const char*)>(dlsym(handle_, "test_backend_counter"));
    wait_blocked_ = reinterpret_cast<bool (*)(int, int)>(dlsym(handle_, "test_backend_wait_blocked"));
    release_ = reinterpret_cast<void (*)()>(dlsym(handle_, "test_backend_release"));
    reset_ = reinterpret_cast<void (*)()>(dlsym(handle_, "test_backend_reset"));
    EXPECT_TRUE(counter_ && wait_blocked_ && release_ && reset_) << "the test backend lacks its test exports";
    if (reset_) reset_();
  }
  ~test_backend_control() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  test_backend_control(const test_backend_control&) = delete;
  test_backend_control& operator=(const test_backend_control&) = delete;

  int counter(const char* name) const { return counter_ ? counter_(name) : -1; }
  // Waits until `count` requests are blocked inside execute.
  bool wait_blocked(int count) const { return wait_blocked_ && wait_blocked_(count, 10'000); }
  void release() const {
    if (release_) release_();
  }

 private:
  void* handle_{nullptr};
  int (*counter_)(const char*){nullptr};
  bool (*wait_blocked_)(int, int){nullptr};
  void (*release_)(){nullptr};
  void (*reset_)(){nullptr};
};

// INPUT0 -> OUTPUT0, FP32 [-1], batching up to 8 rows.
inline backend_model_spec test_backend_spec(std::vector<std::pair<std::string, std::string>> parameters = {},
                                            bool decoupled = false) {
  backend_model_spec spec;
  spec.model_name = "m";
  spec.version = 1;
  spec.version_directory = "/nonexistent/m/1";
  spec.max_batch_size = 8;
  spec.inputs = {{"INPUT0", data_type::fp32, {-1}}};
  spec.outputs = {{"OUTPUT0", data_type::fp32, {-1}}};
  spec.parameters = std::move(parameters);
  spec.decoupled = decoupled;
  return spec;
}

}  // namespace surge::testing
