// C++ conveniences for writing a backend against surge/backend.h.
//
// Header-only and self-contained: a backend links nothing of the server.
// Typical use in the one .cpp that implements the ABI:
//
//   #include <surge/backend_helpers.hpp>
//   SURGE_BACKEND_DEFINE_COMMON_EXPORTS();
//
//   surge_error* surge_model_create(const surge_model_spec* spec, surge_model** out) {
//     return surge::backend_sdk::guard([&] { ... throw backend_exception(...) ... });
//   }
//
// Nothing here may let an exception cross the C boundary: guard() is the only
// way out of an exported function that can fail.
#pragma once

#include <surge/backend.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
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

// The error object every backend hands out. Each backend is its own shared
// object with hidden visibility, so this definition never meets another one.
struct surge_error {
  surge_error_code code;
  std::string message;
};

namespace surge::backend_sdk {

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

// Returned when even the error cannot be allocated; surge_error_delete knows
// not to free it.
inline surge_error* out_of_memory_error() noexcept {
  static surge_error error{SURGE_ERROR_INTERNAL, "out of memory"};
  return &error;
}

inline surge_error* make_error(surge_error_code code, std::string_view message) noexcept {
  try {
    return new surge_error{code, std::string(message)};
  } catch (...) {
    return out_of_memory_error();
  }
}

// Runs `body` and reports how it went as the ABI expects: NULL on success,
// otherwise an owned error. Exceptions other than backend_exception are the
// backend's own failures, hence INTERNAL.
template <class Body>
surge_error* guard(Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
    return nullptr;
  } catch (const backend_exception& e) {
    return make_error(e.code(), e.what());
  } catch (const std::bad_alloc&) {
    return make_error(SURGE_ERROR_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return make_error(SURGE_ERROR_INTERNAL, e.what());
  } catch (...) {
    return make_error(SURGE_ERROR_INTERNAL, "unknown exception");
  }
}

// ---- data types -----------------------------------------------------------

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

// ---- spec and tensor views ------------------------------------------------

inline std::span<const surge_tensor_spec> inputs_of(const surge_model_spec& spec) noexcept {
  return {spec.inputs, spec.input_count};
}
inline std::span<const surge_tensor_spec> outputs_of(const surge_model_spec& spec) noexcept {
  return {spec.outputs, spec.output_count};
}
inline std::span<const std::int64_t> dims_of(const surge_tensor_spec& spec) noexcept { return {spec.dims, spec.rank}; }
inline std::span<const std::int64_t> shape_of(const surge_tensor& t) noexcept { return {t.shape, t.rank}; }

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

// The elements of a fixed-size tensor as T, after checking that the type's
// width, the byte size and the alignment agree (request bodies give no
// alignment guarantee, so a misaligned view is refused rather than read).
template <class T>
std::span<const T> elements(const surge_tensor& t) {
  const std::string name = t.name ? t.name : "";
  if (element_size(t.data_type) != sizeof(T)) {
    fail(SURGE_ERROR_INTERNAL, "tensor '" + name + "' of type " + std::string(type_name(t.data_type)) +
                                   " read with an element size of " + std::to_string(sizeof(T)));
  }
  const auto count = element_count(shape_of(t));
  if (count < 0 || static_cast<std::uint64_t>(count) * sizeof(T) != t.byte_size) {
    fail(SURGE_ERROR_INVALID_ARGUMENT, "tensor '" + name + "' has " + std::to_string(t.byte_size) +
                                           " bytes, shape " + shape_string(shape_of(t)) + " needs " +
                                           std::to_string(count * static_cast<std::int64_t>(sizeof(T))));
  }
  if (count > 0 && reinterpret_cast<std::uintptr_t>(t.data) % alignof(T) != 0) {
    fail(SURGE_ERROR_INVALID_ARGUMENT, "tensor '" + name + "' data is not aligned for its type");
  }
  return {static_cast<const T*>(t.data), static_cast<std::size_t>(count)};
}

// Asks the server for an output buffer; the server refusing is an error that
// names the output.
inline void* allocate_output(surge_output_allocator allocate, void* context, const std::string& name,
                             surge_data_type type, std::span<const std::int64_t> shape, std::uint64_t byte_size) {
  void* buffer =
      allocate(context, name.c_str(), type, shape.data(), static_cast<std::uint32_t>(shape.size()), byte_size);
  if (buffer == nullptr) {
    fail(SURGE_ERROR_INTERNAL, "the server refused output '" + name + "' (" + std::string(type_name(type)) + " " +
                                   shape_string(shape) + ", " + std::to_string(byte_size) + " bytes)");
  }
  return buffer;
}

// ---- parameters -----------------------------------------------------------

// The model's string parameters with typed accessors. A malformed value is a
// SURGE_ERROR_UNSUPPORTED naming the key; reject_unknown() makes a typo in
// config.pbtxt a load error instead of a silently ignored setting.
class parameter_map {
 public:
  explicit parameter_map(const surge_model_spec& spec) {
    for (std::uint32_t i = 0; i < spec.parameter_count; ++i) {
      const auto& p = spec.parameters[i];
      entries_.emplace_back(p.key ? p.key : "", p.value ? p.value : "");
    }
  }

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

}  // namespace surge::backend_sdk

// Defines the exported functions that are the same in every backend: the API
// version and the error accessors. Use exactly once per backend, at namespace
// scope in a .cpp file.
#define SURGE_BACKEND_DEFINE_COMMON_EXPORTS()                                                       \
  extern "C" SURGE_BACKEND_EXPORT void surge_backend_api_version(uint32_t* major, uint32_t* minor) { \
    *major = SURGE_BACKEND_API_MAJOR;                                                               \
    *minor = SURGE_BACKEND_API_MINOR;                                                               \
  }                                                                                                 \
  extern "C" SURGE_BACKEND_EXPORT surge_error_code surge_error_code_of(const surge_error* error) {  \
    return error->code;                                                                             \
  }                                                                                                 \
  extern "C" SURGE_BACKEND_EXPORT const char* surge_error_message(const surge_error* error) {       \
    return error->message.c_str();                                                                  \
  }                                                                                                 \
  extern "C" SURGE_BACKEND_EXPORT void surge_error_delete(surge_error* error) {                     \
    if (error != ::surge::backend_sdk::out_of_memory_error()) delete error;                         \
  }                                                                                                 \
  static_assert(true, "require a semicolon after the macro")
