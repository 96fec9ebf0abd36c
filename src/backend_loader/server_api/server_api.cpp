// The functions include/surge/backend.h marks SURGE_SERVER_API: exported by
// the server executable (linked with ENABLE_EXPORTS) and bound to the
// backends' undefined references when they are dlopened. Compiled into every
// program that loads backends as an object library, so nothing here is
// dropped for lack of a caller inside the program.
//
// Called from C: nothing may throw out of these functions. Accessors return
// borrowed pointers and allocate nothing, so the per-request path of a
// backend costs function calls, not allocations.

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "backend_loader/abi_handles.hpp"
#include "backend_loader/output_checks.hpp"

namespace {

using surge::abi::new_error;
using surge::abi::out_of_memory_error;

const char* or_empty(const char* text) { return text ? text : ""; }

template <class Body>
surge_error* guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return out_of_memory_error();
  } catch (const std::exception& e) {
    return new_error(SURGE_ERROR_INTERNAL, e.what());
  } catch (...) {
    return new_error(SURGE_ERROR_INTERNAL, "unexpected failure in the server");
  }
}

std::string model_label(const surge_request& request) { return "model '" + request.context->spec->model_name + "'"; }

std::string request_label(const surge_request& request) {
  return "request '" + request.request->id + "' of " + model_label(request);
}

void release_response(surge_response* response) noexcept {
  if (response == nullptr) return;
  if (response->embedded) {
    response->outputs.clear();
    response->request->response_in_use = false;
  } else {
    delete response;
  }
}

bool valid_type(surge_data_type type) {
  return type == SURGE_TYPE_BYTES || surge::element_size(static_cast<surge::data_type>(type)) != 0;
}

surge_error* add_tensor(surge_model_info* info, bool input, const char* name, surge_data_type datatype,
                        const int64_t* dims, uint32_t rank) {
  const char* kind = input ? "input" : "output";
  if (info->stage != surge_model_info::phase::autocomplete) {
    return new_error(SURGE_ERROR_INVALID_ARGUMENT,
                     std::string("surge_model_info_add_") + kind + " is only for surge_model_autocomplete");
  }
  if (name == nullptr || *name == '\0') {
    return new_error(SURGE_ERROR_INVALID_ARGUMENT, std::string(kind) + " needs a name");
  }
  auto& list = input ? info->spec->inputs : info->spec->outputs;
  if (std::any_of(list.begin(), list.end(), [&](const surge::tensor_spec& t) { return t.name == name; })) {
    return new_error(SURGE_ERROR_INVALID_ARGUMENT, std::string(kind) + " '" + name + "' is declared already");
  }
  if (!valid_type(datatype)) {
    return new_error(SURGE_ERROR_INVALID_ARGUMENT, std::string(kind) + " '" + name + "' needs a valid datatype");
  }
  if (rank != 0 && dims == nullptr) {
    return new_error(SURGE_ERROR_INVALID_ARGUMENT, std::string(kind) + " '" + name + "' has no dims");
  }
  for (uint32_t i = 0; i < rank; ++i) {
    if (dims[i] <= 0 && dims[i] != -1) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, std::string(kind) + " '" + name + "' has dimension " +
                                                         std::to_string(dims[i]) + "; each must be > 0 or -1");
    }
  }
  list.push_back({name, static_cast<surge::data_type>(datatype), std::vector<std::int64_t>(dims, dims + rank)});
  return nullptr;
}

const surge::tensor* find_output(std::vector<surge::tensor>& outputs, const std::string& name) {
  for (auto& t : outputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

surge::error missing_output(const surge_request& request, const std::string& name) {
  return surge::make_error(surge::error_code::internal, "backend '" + *request.context->backend_name +
                                                            "' returned no output '" + name + "' for " +
                                                            model_label(request));
}

// What the client gets: the outputs it asked for in its order, every
// declared output in declared order when it named none. A non-decoupled
// model must produce them all.
std::variant<surge::inference_response, surge::error> client_response(const surge_request& request,
                                                                       std::vector<surge::tensor>&& outputs) {
  const auto& requested = request.request->requested_outputs;
  const auto& declared = request.context->spec->outputs;
  const bool complete = !request.context->decoupled;
  surge::inference_response response;
  if (requested.empty()) {
    bool in_order = outputs.size() == declared.size();
    for (std::size_t i = 0; in_order && i < declared.size(); ++i) in_order = outputs[i].name == declared[i].name;
    if (in_order) {
      response.outputs = std::move(outputs);
      return response;
    }
    response.outputs.reserve(declared.size());
    for (const auto& spec : declared) {
      const auto* found = find_output(outputs, spec.name);
      if (found == nullptr && complete) return missing_output(request, spec.name);
      if (found != nullptr) response.outputs.push_back(*found);
    }
    return response;
  }
  response.outputs.reserve(requested.size());
  for (const auto& name : requested) {
    const auto* found = find_output(outputs, name);
    if (found == nullptr && complete) return missing_output(request, name);
    if (found != nullptr) response.outputs.push_back(*found);
  }
  return response;
}

}  // namespace

extern "C" {

// ---- errors -------------------------------------------------------------------

surge_error* surge_error_new(surge_error_code code, const char* message) {
  return new_error(code, or_empty(message));
}

surge_error_code surge_error_code_of(const surge_error* error) { return error->code; }

const char* surge_error_message(const surge_error* error) { return error->message.c_str(); }

void surge_error_delete(surge_error* error) {
  if (error != nullptr) surge::abi::delete_error(error);
}

// ---- backend ------------------------------------------------------------------

const char* surge_backend_name(const surge_backend* backend) { return backend->name.c_str(); }

const char* surge_backend_directory(const surge_backend* backend) { return backend->directory.c_str(); }

void surge_backend_set_state(surge_backend* backend, void* state) { backend->state = state; }

void* surge_backend_state(const surge_backend* backend) { return backend->state; }

// ---- model info ---------------------------------------------------------------

surge_backend* surge_model_info_backend(const surge_model_info* info) { return info->backend; }

const char* surge_model_info_name(const surge_model_info* info) { return info->spec->model_name.c_str(); }

int64_t surge_model_info_version(const surge_model_info* info) { return info->spec->version; }

const char* surge_model_info_version_directory(const surge_model_info* info) {
  return info->version_directory.c_str();
}

uint32_t surge_model_info_max_batch_size(const surge_model_info* info) { return info->spec->max_batch_size; }

const char* surge_model_info_default_model_filename(const surge_model_info* info) {
  return info->spec->default_model_filename.c_str();
}

uint32_t surge_model_info_input_count(const surge_model_info* info) {
  return static_cast<uint32_t>(info->spec->inputs.size());
}

const surge_tensor_spec* surge_model_info_input(const surge_model_info* info, uint32_t index) {
  const auto& list = info->spec->inputs;
  return index < list.size() ? surge::abi::handle_of(&list[index]) : nullptr;
}

uint32_t surge_model_info_output_count(const surge_model_info* info) {
  return static_cast<uint32_t>(info->spec->outputs.size());
}

const surge_tensor_spec* surge_model_info_output(const surge_model_info* info, uint32_t index) {
  const auto& list = info->spec->outputs;
  return index < list.size() ? surge::abi::handle_of(&list[index]) : nullptr;
}

const char* surge_tensor_spec_name(const surge_tensor_spec* spec) { return surge::abi::spec_of(spec)->name.c_str(); }

surge_data_type surge_tensor_spec_datatype(const surge_tensor_spec* spec) {
  return static_cast<surge_data_type>(surge::abi::spec_of(spec)->type);
}

const int64_t* surge_tensor_spec_dims(const surge_tensor_spec* spec, uint32_t* rank) {
  const auto& dims = surge::abi::spec_of(spec)->dims;
  if (rank != nullptr) *rank = static_cast<uint32_t>(dims.size());
  return dims.data();
}

uint32_t surge_model_info_parameter_count(const surge_model_info* info) {
  return static_cast<uint32_t>(info->spec->parameters.size());
}

const char* surge_model_info_parameter_key(const surge_model_info* info, uint32_t index) {
  const auto& list = info->spec->parameters;
  return index < list.size() ? list[index].first.c_str() : nullptr;
}

const char* surge_model_info_parameter_value(const surge_model_info* info, uint32_t index) {
  const auto& list = info->spec->parameters;
  return index < list.size() ? list[index].second.c_str() : nullptr;
}

const char* surge_model_info_parameter(const surge_model_info* info, const char* key) {
  if (key == nullptr) return nullptr;
  for (const auto& [k, v] : info->spec->parameters) {
    if (k == key) return v.c_str();
  }
  return nullptr;
}

surge_error* surge_model_info_set_capabilities(surge_model_info* info, uint64_t flags) {
  return guarded([&]() -> surge_error* {
    if (info->stage != surge_model_info::phase::create) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, "capabilities are declared in surge_model_create");
    }
    constexpr uint64_t known =
        SURGE_CAPABILITY_SHORT_EXECUTE | SURGE_CAPABILITY_DECOUPLED | SURGE_CAPABILITY_SEQUENCE;
    if ((flags & ~known) != 0) {
      return new_error(SURGE_ERROR_UNSUPPORTED, "unknown capability flags " + std::to_string(flags & ~known) +
                                                    " (this server implements backend API " +
                                                    std::to_string(SURGE_BACKEND_API_MAJOR) + "." +
                                                    std::to_string(SURGE_BACKEND_API_MINOR) + ")");
    }
    if ((flags & SURGE_CAPABILITY_DECOUPLED) != 0 && !info->spec->decoupled) {
      return new_error(SURGE_ERROR_UNSUPPORTED, "the backend answers model '" + info->spec->model_name +
                                                    "' decoupled; its config needs "
                                                    "model_transaction_policy { decoupled: true }");
    }
    info->capabilities = flags;
    return nullptr;
  });
}

surge_error* surge_model_info_add_input(surge_model_info* info, const char* name, surge_data_type datatype,
                                        const int64_t* dims, uint32_t rank) {
  return guarded([&] { return add_tensor(info, true, name, datatype, dims, rank); });
}

surge_error* surge_model_info_add_output(surge_model_info* info, const char* name, surge_data_type datatype,
                                         const int64_t* dims, uint32_t rank) {
  return guarded([&] { return add_tensor(info, false, name, datatype, dims, rank); });
}

surge_error* surge_model_info_set_max_batch_size(surge_model_info* info, uint32_t max_batch_size) {
  return guarded([&]() -> surge_error* {
    if (info->stage != surge_model_info::phase::autocomplete) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT,
                       "surge_model_info_set_max_batch_size is only for surge_model_autocomplete");
    }
    if (info->spec->max_batch_size != 0) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, "max_batch_size is set by the config (" +
                                                         std::to_string(info->spec->max_batch_size) + ")");
    }
    if (max_batch_size > 0x7fffffffu) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, "max_batch_size " + std::to_string(max_batch_size) +
                                                         " is over the config's limit of 2^31-1");
    }
    info->spec->max_batch_size = max_batch_size;
    return nullptr;
  });
}

// ---- requests and inputs ------------------------------------------------------

const char* surge_request_id(const surge_request* request) { return request->request->id.c_str(); }

uint32_t surge_request_input_count(const surge_request* request) {
  return static_cast<uint32_t>(request->request->inputs.size());
}

const surge_input* surge_request_input(const surge_request* request, uint32_t index) {
  const auto& inputs = request->request->inputs;
  return index < inputs.size() ? surge::abi::input_of(&inputs[index]) : nullptr;
}

const surge_input* surge_request_input_by_name(const surge_request* request, const char* name) {
  if (name == nullptr) return nullptr;
  for (const auto& input : request->request->inputs) {
    if (input.name == name) return surge::abi::input_of(&input);
  }
  return nullptr;
}

uint32_t surge_request_output_count(const surge_request* request) {
  return static_cast<uint32_t>(request->request->requested_outputs.size());
}

const char* surge_request_output_name(const surge_request* request, uint32_t index) {
  const auto& names = request->request->requested_outputs;
  return index < names.size() ? names[index].c_str() : nullptr;
}

uint32_t surge_request_parameter_count(const surge_request* request) {
  return static_cast<uint32_t>(request->request->parameters.size());
}

const char* surge_request_parameter_key(const surge_request* request, uint32_t index) {
  const auto& list = request->request->parameters;
  return index < list.size() ? list[index].first.c_str() : nullptr;
}

const char* surge_request_parameter_value(const surge_request* request, uint32_t index) {
  const auto& list = request->request->parameters;
  return index < list.size() ? list[index].second.c_str() : nullptr;
}

const char* surge_request_parameter(const surge_request* request, const char* key) {
  if (key == nullptr) return nullptr;
  for (const auto& [k, v] : request->request->parameters) {
    if (k == key) return v.c_str();
  }
  return nullptr;
}

surge_error* surge_request_is_cancelled(const surge_request* request, bool* cancelled) {
  if (cancelled == nullptr) return new_error(SURGE_ERROR_INVALID_ARGUMENT, "surge_request_is_cancelled: no result");
  *cancelled = request->request->cancellation->cancelled();
  return nullptr;
}

const char* surge_input_name(const surge_input* input) { return surge::abi::tensor_of(input)->name.c_str(); }

surge_data_type surge_input_datatype(const surge_input* input) {
  return static_cast<surge_data_type>(surge::abi::tensor_of(input)->type);
}

const int64_t* surge_input_shape(const surge_input* input, uint32_t* rank) {
  const auto& shape = surge::abi::tensor_of(input)->shape;
  if (rank != nullptr) *rank = static_cast<uint32_t>(shape.size());
  return shape.data();
}

uint64_t surge_input_byte_size(const surge_input* input) { return surge::abi::tensor_of(input)->data.size(); }

uint32_t surge_input_buffer_count(const surge_input*) { return 1; }

surge_error* surge_input_buffer(const surge_input* input, uint32_t index, const void** data, uint64_t* byte_size,
                                surge_memory_type* memory_type, int64_t* device_id) {
  const auto* t = surge::abi::tensor_of(input);
  if (index != 0) {
    return new_error(SURGE_ERROR_INVALID_ARGUMENT, "input '" + t->name + "' has 1 buffer, asked for buffer " +
                                                       std::to_string(index));
  }
  if (data != nullptr) *data = t->data.data();
  if (byte_size != nullptr) *byte_size = t->data.size();
  if (memory_type != nullptr) *memory_type = SURGE_MEMORY_CPU;
  if (device_id != nullptr) *device_id = 0;
  return nullptr;
}

// ---- responses ----------------------------------------------------------------

surge_error* surge_response_new(surge_response** response, surge_request* request) {
  return guarded([&]() -> surge_error* {
    if (response == nullptr || request == nullptr) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, "surge_response_new needs a request and a place for the response");
    }
    *response = nullptr;
    if (request->closed.load(std::memory_order_acquire)) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, request_label(*request) + " is already answered");
    }
    if (!request->context->decoupled && !request->response_in_use) {
      request->response_in_use = true;
      request->response.request = request;
      request->response.embedded = true;
      request->response.outputs.reserve(request->context->spec->outputs.size());
      *response = &request->response;
      return nullptr;
    }
    *response = new surge_response{request, {}, false};
    return nullptr;
  });
}

surge_error* surge_response_output(surge_response* response, const char* name, surge_data_type datatype,
                                   const int64_t* shape, uint32_t rank, uint64_t byte_size,
                                   surge_memory_type* memory_type, int64_t* device_id, void** buffer) {
  return guarded([&]() -> surge_error* {
    if (response == nullptr || buffer == nullptr) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT,
                       "surge_response_output needs a response and a place for the buffer");
    }
    *buffer = nullptr;
    const auto& spec = *response->request->context->spec;
    auto refusal = surge::abi::check_output(spec, response->outputs, name, datatype, shape, rank, byte_size);
    if (!refusal.empty()) {
      return new_error(SURGE_ERROR_INTERNAL, "the server refused " + refusal + " (backend '" +
                                                 *response->request->context->backend_name + "', model '" +
                                                 spec.model_name + "')");
    }
    response->outputs.push_back(surge::make_owned_tensor(name, static_cast<surge::data_type>(datatype),
                                                         std::vector<std::int64_t>(shape, shape + rank),
                                                         static_cast<std::size_t>(byte_size)));
    // Only CPU memory today, whatever the backend would have preferred.
    if (memory_type != nullptr) *memory_type = SURGE_MEMORY_CPU;
    if (device_id != nullptr) *device_id = 0;
    *buffer = surge::mutable_data(response->outputs.back());
    return nullptr;
  });
}

surge_error* surge_response_send(surge_response* response, uint32_t flags, surge_error* error) {
  if (response == nullptr) {
    surge_error_delete(error);
    return new_error(SURGE_ERROR_INVALID_ARGUMENT, "surge_response_send without a response");
  }
  return guarded([&]() -> surge_error* {
    surge_request& request = *response->request;
    const bool decoupled = request.context->decoupled;
    const bool final = (flags & SURGE_RESPONSE_FINAL) != 0 || error != nullptr;
    if (!decoupled && !final) {
      release_response(response);
      surge_error_delete(error);
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, model_label(request) +
                                                         " is not decoupled: its one response is sent with "
                                                         "SURGE_RESPONSE_FINAL");
    }
    const bool already = final ? request.closed.exchange(true, std::memory_order_acq_rel)
                               : request.closed.load(std::memory_order_acquire);
    if (already) {
      release_response(response);
      surge_error_delete(error);
      return new_error(SURGE_ERROR_INVALID_ARGUMENT, request_label(request) + " is already answered");
    }

    if (!decoupled) {
      if (error != nullptr) {
        *request.answer = surge::abi::take_error(error);
      } else {
        std::visit([&](auto&& answer) { *request.answer = std::move(answer); },
                   client_response(request, std::move(response->outputs)));
      }
      release_response(response);
      return nullptr;
    }

    // Decoupled: straight to the client, from whatever thread this is.
    auto& sink = *request.request->sink;
    if (error != nullptr) {
      release_response(response);
      sink.finish(surge::abi::take_error(error));
    } else {
      if (!response->outputs.empty()) {
        auto answer = client_response(request, std::move(response->outputs));
        sink.send(std::get<surge::inference_response>(std::move(answer)));
      }
      release_response(response);
      if (!final) return nullptr;
      sink.finish(std::nullopt);
    }
    // Last: this may release the request itself.
    surge::abi::forget_open(request);
    return nullptr;
  });
}

void surge_response_delete(surge_response* response) { release_response(response); }

// ---- statistics ---------------------------------------------------------------

surge_error* surge_statistics_add(surge_statistics* statistics, const char* name, double value) {
  return guarded([&]() -> surge_error* {
    if (name == nullptr || *name == '\0') return new_error(SURGE_ERROR_INVALID_ARGUMENT, "a statistic needs a name");
    statistics->values.emplace_back(name, value);
    return nullptr;
  });
}

// ---- generation ---------------------------------------------------------------

surge_error* surge_generation_info_set(surge_generation_info* info, surge_generation_key key, int64_t value) {
  return guarded([&]() -> surge_error* {
    auto& v = info->values;
    const auto out_of_range = [&](const char* what, const char* range) {
      return new_error(SURGE_ERROR_INVALID_ARGUMENT,
                       std::string(what) + " " + std::to_string(value) + " is outside " + range);
    };
    constexpr int64_t uint32_max = 0xffffffffLL;
    constexpr int64_t int32_max = 0x7fffffffLL;
    switch (key) {
      case SURGE_GENERATION_MAX_SEQUENCES:
        if (value < 1 || value > uint32_max) return out_of_range("max_sequences", "1..2^32-1");
        v.max_sequences = value;
        return nullptr;
      case SURGE_GENERATION_MAX_CONTEXT:
        if (value < 2 || value > uint32_max) return out_of_range("max_context", "2..2^32-1");
        v.max_context = value;
        return nullptr;
      case SURGE_GENERATION_VOCAB_SIZE:
        if (value < 1 || value > int32_max) return out_of_range("vocab_size", "1..2^31-1");
        v.vocab_size = value;
        return nullptr;
      case SURGE_GENERATION_EOS_TOKEN:
        if (value < -1 || value > int32_max) return out_of_range("eos_token", "-1..2^31-1");
        v.eos_token = value;
        return nullptr;
      case SURGE_GENERATION_BOS_TOKEN:
        if (value < -1 || value > int32_max) return out_of_range("bos_token", "-1..2^31-1");
        v.bos_token = value;
        return nullptr;
    }
    return new_error(SURGE_ERROR_UNSUPPORTED, "unknown generation key " + std::to_string(static_cast<int>(key)));
  });
}

}  // extern "C"
