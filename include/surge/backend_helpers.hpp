// C++ conveniences for writing a backend against surge/backend.h.
//
// Header-only: a backend links nothing of the server; everything here calls
// the server's C functions, which the backend leaves undefined and the
// server provides at dlopen. Typical use in the one .cpp that implements the
// ABI:
//
//   #include <surge/backend_helpers.hpp>
//   namespace sdk = surge::backend_sdk;
//   SURGE_BACKEND_DEFINE_COMMON_EXPORTS();
//
//   extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_execute(surge_instance* instance,
//                                                                       surge_request** requests, uint32_t count) {
//     return sdk::guard([&] {
//       for (auto* raw : sdk::requests_of(requests, count)) {
//         sdk::answer(raw, [&](sdk::request_view request, sdk::response& response) { ... });
//       }
//     });
//   }
//
// Nothing here may let an exception cross the C boundary: guard() is the only
// way out of an exported function that can fail, and answer() keeps one
// request's failure to that request.
#pragma once

#include <surge/backend.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::backend_sdk {

// ---- errors -------------------------------------------------------------------

// Thrown inside a backend and turned into a surge_error by guard().
class backend_exception : public std::runtime_error {
 public:
  backend_exception(surge_error_code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  surge_error_code code() const noexcept { return code_; }

 private:
  surge_error_code code_;
};

[[noreturn]] inline void fail(surge_error_code code, const std::string& message) {
  throw backend_exception(code, message);
}

// An error the server handed back (a refused output, say) becomes a
// backend_exception; the server's object is released either way.
inline void check(surge_error* error) {
  if (error == nullptr) return;
  const surge_error_code code = surge_error_code_of(error);
  std::string message = surge_error_message(error);
  surge_error_delete(error);
  throw backend_exception(code, message);
}

// The current exception as a new server error; for catch blocks only.
inline surge_error* current_error() noexcept {
  try {
    throw;
  } catch (const backend_exception& e) {
    return surge_error_new(e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return surge_error_new(SURGE_ERROR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return surge_error_new(SURGE_ERROR_INTERNAL, e.what());
  } catch (...) {
    return surge_error_new(SURGE_ERROR_INTERNAL, "unknown exception");
  }
}

// Runs `body` and reports how it went as the ABI expects: NULL on success,
// otherwise an error owned by the caller. Exceptions other than
// backend_exception are the backend's own failures, hence INTERNAL.
template <class Body>
surge_error* guard(Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
    return nullptr;
  } catch (...) {
    return current_error();
  }
}

// ---- data types ---------------------------------------------------------------

// Bytes per element; 0 for BYTES (variable length) and invalid values.
inline std::size_t element_size(surge_data_type type) noexcept {
  switch (type) {
    case SURGE_TYPE_BOOL:
    case SURGE_TYPE_UINT8:
    case SURGE_TYPE_INT8:
      return 1;
    case SURGE_TYPE_UINT16:
    case SURGE_TYPE_INT16:
    case SURGE_TYPE_FP16:
    case SURGE_TYPE_BF16:
      return 2;
    case SURGE_TYPE_UINT32:
    case SURGE_TYPE_INT32:
    case SURGE_TYPE_FP32:
      return 4;
    case SURGE_TYPE_UINT64:
    case SURGE_TYPE_INT64:
    case SURGE_TYPE_FP64:
      return 8;
    default:
      return 0;
  }
}

// KServe v2 spelling, for error messages.
inline std::string_view type_name(surge_data_type type) noexcept {
  switch (type) {
    case SURGE_TYPE_BOOL: return "BOOL";
    case SURGE_TYPE_UINT8: return "UINT8";
    case SURGE_TYPE_UINT16: return "UINT16";
    case SURGE_TYPE_UINT32: return "UINT32";
    case SURGE_TYPE_UINT64: return "UINT64";
    case SURGE_TYPE_INT8: return "INT8";
    case SURGE_TYPE_INT16: return "INT16";
    case SURGE_TYPE_INT32: return "INT32";
    case SURGE_TYPE_INT64: return "INT64";
    case SURGE_TYPE_FP16: return "FP16";
    case SURGE_TYPE_FP32: return "FP32";
    case SURGE_TYPE_FP64: return "FP64";
    case SURGE_TYPE_BYTES: return "BYTES";
    case SURGE_TYPE_BF16: return "BF16";
    default: return "INVALID";
  }
}

inline std::string shape_string(std::span<const std::int64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

inline std::int64_t element_count(std::span<const std::int64_t> shape) noexcept {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// Checks that `bytes` hold the elements of `shape` as T, aligned for T
// (request bodies give no alignment guarantee, so a misaligned view is
// refused rather than read), and returns them.
template <class T>
std::span<const T> typed_elements(std::string_view name, surge_data_type type, std::span<const std::int64_t> shape,
                                  std::span<const std::byte> bytes) {
  if (element_size(type) != sizeof(T)) {
    fail(SURGE_ERROR_INTERNAL, "tensor '" + std::string(name) + "' of type " + std::string(type_name(type)) +
                                   " read with an element size of " + std::to_string(sizeof(T)));
  }
  const auto count = element_count(shape);
  if (count < 0 || static_cast<std::uint64_t>(count) * sizeof(T) != bytes.size()) {
    fail(SURGE_ERROR_INVALID_ARGUMENT, "tensor '" + std::string(name) + "' has " + std::to_string(bytes.size()) +
                                           " bytes, shape " + shape_string(shape) + " needs " +
                                           std::to_string(count * static_cast<std::int64_t>(sizeof(T))));
  }
  if (count > 0 && reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(T) != 0) {
    fail(SURGE_ERROR_INVALID_ARGUMENT, "tensor '" + std::string(name) + "' data is not aligned for its type");
  }
  return {reinterpret_cast<const T*>(bytes.data()), static_cast<std::size_t>(count)};
}

// ---- model info -------------------------------------------------------------

// A declared input or output; borrowed from the model info.
struct tensor_spec_view {
  std::string_view name;
  surge_data_type type{SURGE_TYPE_INVALID};
  std::span<const std::int64_t> dims;  // without the batch dimension when the model batches
};

// What surge_model_create (or surge_model_autocomplete) receives, read and
// written in C++. Borrowed for that call only.
class model_info {
 public:
  explicit model_info(surge_model_info* info) : info_(info) {}

  surge_model_info* get() const noexcept { return info_; }
  surge_backend* backend() const { return surge_model_info_backend(info_); }
  std::string name() const { return surge_model_info_name(info_); }
  std::int64_t version() const { return surge_model_info_version(info_); }
  std::string version_directory() const { return surge_model_info_version_directory(info_); }
  std::uint32_t max_batch_size() const { return surge_model_info_max_batch_size(info_); }
  bool batched() const { return max_batch_size() > 0; }
  // The config's default_model_filename, or `fallback` when it sets none.
  std::string model_filename(std::string_view fallback) const {
    const char* name = surge_model_info_default_model_filename(info_);
    return name && *name ? std::string(name) : std::string(fallback);
  }

  std::vector<tensor_spec_view> inputs() const { return list(true); }
  std::vector<tensor_spec_view> outputs() const { return list(false); }

  // surge_model_create only.
  void set_capabilities(std::uint64_t flags) const { check(surge_model_info_set_capabilities(info_, flags)); }

  // surge_model_autocomplete only.
  void add_input(const std::string& name, surge_data_type type, std::span<const std::int64_t> dims) const {
    check(surge_model_info_add_input(info_, name.c_str(), type, dims.data(), static_cast<std::uint32_t>(dims.size())));
  }
  void add_output(const std::string& name, surge_data_type type, std::span<const std::int64_t> dims) const {
    check(
        surge_model_info_add_output(info_, name.c_str(), type, dims.data(), static_cast<std::uint32_t>(dims.size())));
  }
  void set_max_batch_size(std::uint32_t max_batch_size) const {
    check(surge_model_info_set_max_batch_size(info_, max_batch_size));
  }

 private:
  std::vector<tensor_spec_view> list(bool inputs) const {
    const auto count = inputs ? surge_model_info_input_count(info_) : surge_model_info_output_count(info_);
    std::vector<tensor_spec_view> out;
    out.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      const auto* spec = inputs ? surge_model_info_input(info_, i) : surge_model_info_output(info_, i);
      std::uint32_t rank = 0;
      const auto* dims = surge_tensor_spec_dims(spec, &rank);
      out.push_back({surge_tensor_spec_name(spec), surge_tensor_spec_datatype(spec), {dims, rank}});
    }
    return out;
  }

  surge_model_info* info_;
};

// The model's string parameters with typed accessors. A malformed value is a
// SURGE_ERROR_UNSUPPORTED naming the key; reject_unknown() makes a typo in
// config.pbtxt a load error instead of a silently ignored setting.
class parameter_map {
 public:
  explicit parameter_map(const surge_model_info* info) {
    const auto count = surge_model_info_parameter_count(info);
    for (std::uint32_t i = 0; i < count; ++i) {
      entries_.emplace_back(surge_model_info_parameter_key(info, i), surge_model_info_parameter_value(info, i));
    }
  }
  explicit parameter_map(const model_info& info) : parameter_map(info.get()) {}

  std::optional<std::string> get_string(std::string_view key) const {
    for (const auto& [k, v] : entries_) {
      if (k == key) return v;
    }
    return std::nullopt;
  }

  std::optional<std::int64_t> get_int(std::string_view key) const {
    auto text = get_string(key);
    if (!text) return std::nullopt;
    std::int64_t value = 0;
    const auto* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc{} || ptr != end || text->empty()) bad_value(key, *text, "an integer");
    return value;
  }

  std::optional<double> get_double(std::string_view key) const {
    auto text = get_string(key);
    if (!text) return std::nullopt;
    // strtod rather than from_chars<double>: the latter is missing from some
    // standard libraries backends may be built with.
    errno = 0;
    char* end = nullptr;
    const double value = std::strtod(text->c_str(), &end);
    if (text->empty() || end != text->c_str() + text->size() || errno == ERANGE) bad_value(key, *text, "a number");
    return value;
  }

  std::optional<bool> get_bool(std::string_view key) const {
    auto text = get_string(key);
    if (!text) return std::nullopt;
    if (*text == "true" || *text == "1") return true;
    if (*text == "false" || *text == "0") return false;
    bad_value(key, *text, "true or false");
  }

  // Fails naming the first key not in `known`.
  void reject_unknown(std::initializer_list<std::string_view> known) const {
    for (const auto& [k, v] : entries_) {
      bool found = false;
      for (auto name : known) found = found || name == k;
      if (!found) {
        std::string list;
        for (auto name : known) list += (list.empty() ? "" : ", ") + std::string(name);
        fail(SURGE_ERROR_UNSUPPORTED,
             "unknown parameter '" + k + "'" + (list.empty() ? " (this backend takes none)" : " (known: " + list + ")"));
      }
    }
  }

 private:
  [[noreturn]] static void bad_value(std::string_view key, const std::string& value, std::string_view expected) {
    fail(SURGE_ERROR_UNSUPPORTED, "parameter '" + std::string(key) + "' must be " + std::string(expected) +
                                      ", got '" + value + "'");
  }

  std::vector<std::pair<std::string, std::string>> entries_;
};

// ---- requests -----------------------------------------------------------------

// One input of a request. Borrowed: lives as long as its request.
class input_view {
 public:
  explicit input_view(const surge_input* input) : input_(input) {}

  const surge_input* get() const noexcept { return input_; }
  std::string_view name() const { return surge_input_name(input_); }
  surge_data_type type() const { return surge_input_datatype(input_); }
  std::span<const std::int64_t> shape() const {
    std::uint32_t rank = 0;
    const auto* dims = surge_input_shape(input_, &rank);
    return {dims, rank};
  }
  std::uint64_t byte_size() const { return surge_input_byte_size(input_); }

  // The input's bytes, read-only and unaligned. Fails for an input in
  // several buffers or outside CPU memory, which this server does not hand
  // out today; a backend that takes those reads surge_input_buffer itself.
  std::span<const std::byte> bytes() const {
    if (surge_input_buffer_count(input_) != 1) {
      fail(SURGE_ERROR_UNSUPPORTED, "input '" + std::string(name()) + "' comes in " +
                                        std::to_string(surge_input_buffer_count(input_)) + " buffers");
    }
    const void* data = nullptr;
    std::uint64_t size = 0;
    surge_memory_type memory = SURGE_MEMORY_CPU;
    std::int64_t device = 0;
    check(surge_input_buffer(input_, 0, &data, &size, &memory, &device));
    if (memory == SURGE_MEMORY_GPU) {
      fail(SURGE_ERROR_UNSUPPORTED, "input '" + std::string(name()) + "' is in GPU memory");
    }
    return {static_cast<const std::byte*>(data), static_cast<std::size_t>(size)};
  }

  // The elements as T, after checking type width, byte size and alignment.
  template <class T>
  std::span<const T> elements() const {
    return typed_elements<T>(name(), type(), shape(), bytes());
  }

 private:
  const surge_input* input_;
};

// One request of a batch. Borrowed: valid as backend.h says (until its final
// response, and for a non-decoupled model no longer than the execute).
class request_view {
 public:
  explicit request_view(surge_request* request) : request_(request) {}

  surge_request* get() const noexcept { return request_; }
  std::string_view id() const { return surge_request_id(request_); }

  std::uint32_t input_count() const { return surge_request_input_count(request_); }
  input_view input(std::uint32_t index) const {
    const auto* input = surge_request_input(request_, index);
    if (input == nullptr) fail(SURGE_ERROR_INVALID_ARGUMENT, "no input " + std::to_string(index));
    return input_view(input);
  }
  // The input called `name`; a request without it is the client's mistake.
  input_view input(const std::string& name) const {
    const auto* input = surge_request_input_by_name(request_, name.c_str());
    if (input == nullptr) fail(SURGE_ERROR_INVALID_ARGUMENT, "missing input '" + name + "'");
    return input_view(input);
  }
  std::optional<input_view> find_input(const std::string& name) const {
    const auto* input = surge_request_input_by_name(request_, name.c_str());
    if (input == nullptr) return std::nullopt;
    return input_view(input);
  }

  // Whether the client wants output `name` (every output when it named none).
  bool wants_output(std::string_view name) const {
    const auto count = surge_request_output_count(request_);
    if (count == 0) return true;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (name == surge_request_output_name(request_, i)) return true;
    }
    return false;
  }

  // The request's own parameter `key`, as the client sent it (a string).
  std::optional<std::string_view> parameter(const char* key) const {
    const char* value = surge_request_parameter(request_, key);
    if (value == nullptr) return std::nullopt;
    return std::string_view(value);
  }

  bool cancelled() const {
    bool cancelled = false;
    check(surge_request_is_cancelled(request_, &cancelled));
    return cancelled;
  }

 private:
  surge_request* request_;
};

inline std::span<surge_request* const> requests_of(surge_request** requests, std::uint32_t count) {
  return {requests, count};
}

// ---- responses ----------------------------------------------------------------

// The response to one request. Released unsent when it goes out of scope
// (its request then stays unanswered, which the server turns into an error
// for a model that is not decoupled).
class response {
 public:
  explicit response(surge_request* request) { check(surge_response_new(&response_, request)); }
  ~response() {
    if (response_ != nullptr) surge_response_delete(response_);
  }
  response(response&& other) noexcept : response_(std::exchange(other.response_, nullptr)) {}
  response& operator=(response&& other) noexcept {
    if (this != &other) {
      if (response_ != nullptr) surge_response_delete(response_);
      response_ = std::exchange(other.response_, nullptr);
    }
    return *this;
  }
  response(const response&) = delete;
  response& operator=(const response&) = delete;

  // A buffer for output `name`, owned by the server. The server refusing
  // (an undeclared name, the wrong type, shape or size) throws its message,
  // which names the output.
  std::span<std::byte> output(const std::string& name, surge_data_type type, std::span<const std::int64_t> shape,
                              std::uint64_t byte_size) {
    surge_memory_type memory = SURGE_MEMORY_CPU;
    std::int64_t device = 0;
    void* buffer = nullptr;
    check(surge_response_output(response_, name.c_str(), type, shape.data(), static_cast<std::uint32_t>(shape.size()),
                                byte_size, &memory, &device, &buffer));
    return {static_cast<std::byte*>(buffer), static_cast<std::size_t>(byte_size)};
  }

  // An output holding a copy of `data`.
  void output_copy(const std::string& name, surge_data_type type, std::span<const std::int64_t> shape,
                   std::span<const std::byte> data) {
    auto buffer = output(name, type, shape, data.size());
    if (!data.empty()) std::memcpy(buffer.data(), data.data(), data.size());
  }

  void send(std::uint32_t flags = SURGE_RESPONSE_FINAL) {
    check(surge_response_send(std::exchange(response_, nullptr), flags, nullptr));
  }
  // Answers the request with an error instead of outputs.
  void send_error(surge_error_code code, const std::string& message) {
    check(surge_response_send(std::exchange(response_, nullptr), SURGE_RESPONSE_FINAL,
                              surge_error_new(code, message.c_str())));
  }
  bool sent() const noexcept { return response_ == nullptr; }
  // Hands the server's object over (to surge_response_send or _delete).
  surge_response* release() noexcept { return std::exchange(response_, nullptr); }

 private:
  surge_response* response_{nullptr};
};

// Answers `request` with an error.
inline void send_error(surge_request* request, surge_error_code code, const std::string& message) {
  response(request).send_error(code, message);
}

// Runs `body(request_view, response&)` for one request and sends the
// response it filled. An exception from body answers this request alone
// with the error, so one bad request does not fail its batch.
template <class Body>
void answer(surge_request* request, Body&& body) {
  response r(request);
  try {
    body(request_view(request), r);
  } catch (...) {
    if (r.sent()) throw;  // it failed after answering: nothing of this request is left to fail
    check(surge_response_send(r.release(), SURGE_RESPONSE_FINAL, current_error()));
    return;
  }
  if (!r.sent()) r.send();
}

// ---- batches ------------------------------------------------------------------

// One input of every request of a batch, concatenated along dim 0, for
// backends that want one tensor. A batch of one is passed through without a
// copy unless its bytes are misaligned for the type (request bodies put
// tensors wherever they fall); then, and for larger batches, the bytes are
// copied into storage aligned for any element type.
class gathered_input {
 public:
  std::string_view name;
  surge_data_type type{SURGE_TYPE_INVALID};
  std::vector<std::int64_t> shape;  // dim 0: the rows of all requests
  std::vector<std::int64_t> rows;   // each request's dim 0, in batch order

  std::span<const std::byte> bytes() const { return bytes_; }
  template <class T>
  std::span<const T> elements() const {
    return typed_elements<T>(name, type, shape, bytes_);
  }

 private:
  friend gathered_input gather(std::span<surge_request* const> requests, const std::string& name);
  std::span<const std::byte> bytes_;
  std::vector<std::max_align_t> storage_;
};

inline gathered_input gather(std::span<surge_request* const> requests, const std::string& name) {
  gathered_input out;
  if (requests.empty()) fail(SURGE_ERROR_INTERNAL, "gather of input '" + name + "' from no requests");
  const input_view first = request_view(requests.front()).input(name);
  out.name = first.name();
  out.type = first.type();
  const auto first_shape = first.shape();
  out.shape.assign(first_shape.begin(), first_shape.end());
  const auto alignment = std::max<std::size_t>(element_size(out.type), 1);

  if (requests.size() == 1) {
    out.rows.push_back(out.shape.empty() ? 1 : out.shape[0]);
    const auto bytes = first.bytes();
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignment == 0) {
      out.bytes_ = bytes;
      return out;
    }
  } else if (out.shape.empty()) {
    fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + name + "' has no batch dimension to concatenate along");
  }

  std::uint64_t total = 0;
  std::int64_t rows = 0;
  std::vector<input_view> inputs;
  inputs.reserve(requests.size());
  for (auto* raw : requests) {
    const request_view request(raw);
    auto input = request.input(name);
    const auto shape = input.shape();
    if (input.type() != out.type) {
      fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + name + "' of request '" + std::string(request.id()) + "' is " +
                                             std::string(type_name(input.type())) + ", the batch's is " +
                                             std::string(type_name(out.type)));
    }
    const bool same = shape.size() == out.shape.size() &&
                      (shape.empty() || std::equal(shape.begin() + 1, shape.end(), out.shape.begin() + 1));
    if (!same) {
      fail(SURGE_ERROR_INVALID_ARGUMENT, "input '" + name + "' of request '" + std::string(request.id()) +
                                             "' has shape " + shape_string(shape) + ", which cannot join the batch's " +
                                             shape_string(out.shape));
    }
    if (requests.size() > 1) out.rows.push_back(shape[0]);
    rows += shape.empty() ? 1 : shape[0];
    total += input.byte_size();
    inputs.push_back(input);
  }
  if (!out.shape.empty()) out.shape[0] = rows;
  out.storage_.resize((total + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t));
  auto* cursor = reinterpret_cast<std::byte*>(out.storage_.data());
  for (const auto& input : inputs) {
    const auto bytes = input.bytes();
    if (!bytes.empty()) std::memcpy(cursor, bytes.data(), bytes.size());
    cursor += bytes.size();
  }
  out.bytes_ = {reinterpret_cast<const std::byte*>(out.storage_.data()), static_cast<std::size_t>(total)};
  return out;
}

// One response per request of a batch, in batch order.
inline std::vector<response> responses_for(std::span<surge_request* const> requests) {
  std::vector<response> out;
  out.reserve(requests.size());
  for (auto* request : requests) out.emplace_back(request);
  return out;
}

inline void send_all(std::vector<response>& responses) {
  for (auto& r : responses) {
    if (!r.sent()) r.send();
  }
}

namespace detail {

// Byte offset where element `index` starts in a BYTES buffer (a 4-byte
// little-endian length before each element); SIZE_MAX when malformed.
inline std::size_t bytes_offset(std::span<const std::byte> data, std::int64_t index) {
  std::size_t offset = 0;
  for (std::int64_t i = 0; i < index; ++i) {
    if (offset + 4 > data.size()) return SIZE_MAX;
    std::uint32_t length = 0;
    std::memcpy(&length, data.data() + offset, 4);  // little-endian hosts only, as the ABI states
    offset += 4 + length;
    if (offset > data.size()) return SIZE_MAX;
  }
  return offset;
}

}  // namespace detail

// Splits a batched output (dim 0: the rows of every request, in batch order,
// as gather() reported them in `rows`) into output `name` of each request's
// response.
inline void scatter(std::vector<response>& responses, std::span<const std::int64_t> rows, const std::string& name,
                    surge_data_type type, std::span<const std::int64_t> shape, std::span<const std::byte> data) {
  if (rows.size() != responses.size()) {
    fail(SURGE_ERROR_INTERNAL, "scatter of output '" + name + "': " + std::to_string(rows.size()) + " row counts for " +
                                   std::to_string(responses.size()) + " responses");
  }
  if (responses.size() == 1) {
    responses.front().output_copy(name, type, shape, data);
    return;
  }
  std::int64_t total = 0;
  for (auto r : rows) total += r;
  if (shape.empty() || shape[0] != total) {
    fail(SURGE_ERROR_INTERNAL, "output '" + name + "' has " +
                                   (shape.empty() ? std::string("no batch dimension")
                                                  : std::to_string(shape[0]) + " rows") +
                                   " for a batch of " + std::to_string(total) + " rows");
  }
  const std::int64_t per_row = element_count(shape.subspan(1));
  const std::size_t width = element_size(type);
  std::vector<std::int64_t> part(shape.begin(), shape.end());
  std::int64_t row = 0;
  for (std::size_t r = 0; r < responses.size(); ++r) {
    std::size_t begin = 0;
    std::size_t end = 0;
    if (type == SURGE_TYPE_BYTES) {
      begin = detail::bytes_offset(data, row * per_row);
      end = detail::bytes_offset(data, (row + rows[r]) * per_row);
      if (begin == SIZE_MAX || end == SIZE_MAX) {
        fail(SURGE_ERROR_INTERNAL, "output '" + name + "' has malformed BYTES elements");
      }
    } else {
      begin = static_cast<std::size_t>(row * per_row) * width;
      end = static_cast<std::size_t>((row + rows[r]) * per_row) * width;
      if (end > data.size()) fail(SURGE_ERROR_INTERNAL, "output '" + name + "' is shorter than its shape says");
    }
    part[0] = rows[r];
    responses[r].output_copy(name, type, part, data.subspan(begin, end - begin));
    row += rows[r];
  }
}

// ---- statistics and generation --------------------------------------------------

inline void add_statistic(surge_statistics* statistics, const char* name, double value) {
  check(surge_statistics_add(statistics, name, value));
}

inline void set_generation(surge_generation_info* info, surge_generation_key key, std::int64_t value) {
  check(surge_generation_info_set(info, key, value));
}

}  // namespace surge::backend_sdk

// Defines surge_backend_api_version, the same in every backend: the version
// of the header it was compiled against. Use exactly once per backend, at
// namespace scope in a .cpp file.
#define SURGE_BACKEND_DEFINE_COMMON_EXPORTS()                                                       \
  extern "C" SURGE_BACKEND_EXPORT void surge_backend_api_version(uint32_t* major, uint32_t* minor) { \
    *major = SURGE_BACKEND_API_MAJOR;                                                               \
    *minor = SURGE_BACKEND_API_MINOR;                                                               \
  }                                                                                                 \
  static_assert(true, "require a semicolon after the macro")

// Defines surge_model_delete, surge_instance_create and surge_instance_delete
// for a backend whose instance holds nothing but its model: `struct
// surge_instance { surge_model* model; };` (or an aggregate whose first
// member is the model and whose others have defaults). Use at most once per
// backend, after both structs are complete.
#define SURGE_BACKEND_DEFINE_MODEL_INSTANCE_EXPORTS()                                                           \
  extern "C" SURGE_BACKEND_EXPORT void surge_model_delete(surge_model* model) { delete model; }                 \
  extern "C" SURGE_BACKEND_EXPORT surge_error* surge_instance_create(surge_model* model, uint32_t,              \
                                                                     surge_instance** out) {                    \
    *out = nullptr;                                                                                             \
    return ::surge::backend_sdk::guard([&] { *out = new surge_instance{model}; });                              \
  }                                                                                                             \
  extern "C" SURGE_BACKEND_EXPORT void surge_instance_delete(surge_instance* instance) { delete instance; }      \
  static_assert(true, "require a semicolon after the macro")
