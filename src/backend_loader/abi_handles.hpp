#pragma once

// The server's definitions of the opaque handles of include/surge/backend.h.
// Only src/backend_loader sees them; backends see names and accessors.
//
// Two handles are casts of server objects rather than objects of their own,
// so handing them out costs nothing: a surge_input* is a const surge::tensor*
// and a surge_tensor_spec* is a const surge::tensor_spec*.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend_loader/backend_model.hpp"
#include "core/inference_request.hpp"
#include "core/batch_outcome.hpp"
#include "surge/backend.h"

struct surge_error {
  surge_error_code code;
  std::string message;
};

struct surge_backend {
  std::string name;
  std::string directory;
  void* state{nullptr};
};

struct surge_model_info {
  enum class phase { autocomplete, create };

  surge_backend* backend{nullptr};
  surge::backend_model_spec* spec{nullptr};  // written by the setters during autocomplete
  std::string version_directory;             // spec->version_directory as the C string handed out
  phase stage{phase::create};
  std::uint64_t capabilities{0};  // set_capabilities, during create
};

struct surge_statistics {
  std::vector<std::pair<std::string, double>> values;
};

struct surge_generation_info {
  surge::generation_info values;
};

namespace surge::abi {

inline const tensor* tensor_of(const surge_input* input) { return reinterpret_cast<const tensor*>(input); }
inline const surge_input* input_of(const tensor* t) { return reinterpret_cast<const surge_input*>(t); }
inline const tensor_spec* spec_of(const surge_tensor_spec* spec) { return reinterpret_cast<const tensor_spec*>(spec); }
inline const surge_tensor_spec* handle_of(const tensor_spec* spec) {
  return reinterpret_cast<const surge_tensor_spec*>(spec);
}

// Returned when even an error cannot be allocated; never freed.
surge_error* out_of_memory_error() noexcept;
surge_error* new_error(surge_error_code code, std::string_view message) noexcept;
void delete_error(surge_error* error) noexcept;

error_code error_code_from(surge_error_code code);
// Converts and releases a backend's error.
error take_error(surge_error* raw);

// What the requests of one instance share: the model they belong to and,
// for a decoupled model, the requests still open.
struct execution_context {
  const backend_model_spec* spec{nullptr};
  const std::string* backend_name{nullptr};
  bool decoupled{false};

  // Decoupled only: requests taken over and not yet closed, answered by the
  // server when the instance goes away (backend.h, surge_instance_delete).
  std::mutex open_mutex;
  std::vector<std::shared_ptr<surge_request>> open;  // guarded by open_mutex
};

}  // namespace surge::abi

struct surge_response {
  surge_request* request{nullptr};
  std::vector<surge::tensor> outputs;  // in allocation order
  bool embedded{false};                // the request's own response object, not allocated
};

struct surge_request {
  surge::inference_request* request{nullptr};
  surge::abi::execution_context* context{nullptr};
  // Set once, by whoever closes the request: the backend's final response,
  // or the server answering what the backend did not.
  std::atomic<bool> closed{false};

  // Not decoupled: where the answer goes, read when execute returns.
  surge::batch_outcome::answer* answer{nullptr};
  // Not decoupled: the one response a request gets, reused from batch to
  // batch so answering allocates nothing of its own.
  surge_response response;
  bool response_in_use{false};

  // Decoupled: the request itself, kept alive until it is closed.
  surge::request_ptr owned;
  std::shared_ptr<surge::abi::execution_context> shared_context;
};

namespace surge::abi {

// Closes `request` with `failure` unless it is closed already: through the
// sink for a decoupled request, into its answer otherwise. True when this
// call closed it. A decoupled request may be destroyed by the call.
bool close_with_error(surge_request& request, error failure);

// A decoupled request was closed: drops the context's reference to it,
// which may destroy it.
void forget_open(surge_request& request);

}  // namespace surge::abi
