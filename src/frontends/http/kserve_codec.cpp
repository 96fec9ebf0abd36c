#include "frontends/http/kserve_codec.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>

#include "frontends/tensor_checks.hpp"

namespace surge::http {

// The wire format is little-endian; tensors are copied to and from it with
// memcpy, which is only right on a little-endian host.
static_assert(std::endian::native == std::endian::little, "surge assumes a little-endian host");

namespace {

using json_value = rapidjson::Value;

// Iterative: a body of nested brackets cannot exhaust the stack. Full
// precision: FP64 values read back bit-exact. NaN and Infinity: Python's
// json module (and so tritonclient) writes them for non-finite floats.
constexpr unsigned parse_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag | rapidjson::kParseNanAndInfFlag;

// "data" nests at most one array per dimension in practice; the limit keeps
// the recursive walks over it bounded.
constexpr int max_data_depth = 32;

// Room for any number this file formats; the longest, a double in scientific
// form such as -2.2250738585072014e-308, takes 24 characters.
constexpr std::size_t max_number_chars = 32;

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

error invalid(std::string message) { return make_error(error_code::invalid_argument, std::move(message)); }

std::string json_type_name(const json_value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "a value";
}

std::string shortest_text(double value) {
  char text[max_number_chars];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

std::string number_text(const json_value& value) {
  if (value.IsInt64()) return std::to_string(value.GetInt64());
  if (value.IsUint64()) return std::to_string(value.GetUint64());
  return shortest_text(value.GetDouble());
}

const json_value* find_member(const json_value& object, const char* key) {
  const auto it = object.FindMember(key);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string_view string_of(const json_value& value) { return {value.GetString(), value.GetStringLength()}; }

// ---- 16-bit floats ----

// Rounds |value| to a whole number of quanta (2^-mantissa_bits of its binade,
// or the subnormal step), ties to even. Everything here is exact in double,
// so the one rounding is the one the target format defines.
template <int exponent_bits, int mantissa_bits>
std::uint16_t narrow_float(double value) {
  constexpr int bias = (1 << (exponent_bits - 1)) - 1;
  constexpr std::uint32_t infinity = ((1u << exponent_bits) - 1) << mantissa_bits;
  constexpr std::uint32_t implicit_one = 1u << mantissa_bits;
  const std::uint32_t sign = std::signbit(value) ? 1u << (exponent_bits + mantissa_bits) : 0u;

  if (std::isnan(value)) return static_cast<std::uint16_t>(sign | infinity | (implicit_one >> 1));
  const double magnitude = std::fabs(value);
  if (std::isinf(magnitude)) return static_cast<std::uint16_t>(sign | infinity);
  if (magnitude == 0) return static_cast<std::uint16_t>(sign);

  int exponent = 0;  // magnitude = fraction * 2^exponent, fraction in [0.5, 1)
  std::frexp(magnitude, &exponent);
  const int unbiased = exponent - 1;
  if (unbiased > bias) return static_cast<std::uint16_t>(sign | infinity);

  const bool subnormal = unbiased < 1 - bias;
  const int quantum_exponent = (subnormal ? 1 - bias : unbiased) - mantissa_bits;
  const double scaled = std::ldexp(magnitude, -quantum_exponent);
  double quanta = std::floor(scaled);
  const double rest = scaled - quanta;
  if (rest > 0.5 || (rest == 0.5 && std::fmod(quanta, 2.0) != 0)) quanta += 1;

  // Rounding up to the next binade carries into the exponent field by plain
  // addition: a subnormal becomes the smallest normal, the largest finite
  // value becomes infinity.
  const auto units = static_cast<std::uint32_t>(quanta);
  const std::uint32_t bits =
      subnormal ? units : (static_cast<std::uint32_t>(unbiased + bias) << mantissa_bits) + (units - implicit_one);
  return static_cast<std::uint16_t>(sign | std::min(bits, infinity));
}

template <int exponent_bits, int mantissa_bits>
double widen_float(std::uint16_t bits) {
  constexpr int bias = (1 << (exponent_bits - 1)) - 1;
  constexpr std::uint32_t exponent_mask = (1u << exponent_bits) - 1;
  constexpr std::uint32_t mantissa_mask = (1u << mantissa_bits) - 1;
  const bool negative = (bits >> (exponent_bits + mantissa_bits)) & 1u;
  const std::uint32_t exponent = (bits >> mantissa_bits) & exponent_mask;
  const std::uint32_t mantissa = bits & mantissa_mask;

  double magnitude = 0;
  if (exponent == exponent_mask) {
    magnitude = mantissa != 0 ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(mantissa), 1 - bias - mantissa_bits);
  } else {
    magnitude = std::ldexp(static_cast<double>(mantissa | (mantissa_mask + 1)),
                           static_cast<int>(exponent) - bias - mantissa_bits);
  }
  return negative ? -magnitude : magnitude;
}

}  // namespace

std::uint16_t fp16_from_double(double value) { return narrow_float<5, 10>(value); }
double fp16_to_double(std::uint16_t bits) { return widen_float<5, 10>(bits); }
std::uint16_t bf16_from_double(double value) { return narrow_float<8, 7>(value); }
double bf16_to_double(std::uint16_t bits) { return widen_float<8, 7>(bits); }

namespace {

// ---- JSON "data" to tensor bytes ----

enum class element_status { ok, not_boolean, not_number, not_integer, out_of_range, not_string };

element_status bool_from_json(const json_value& value, std::uint8_t& out) {
  if (!value.IsBool()) return element_status::not_boolean;
  out = value.GetBool() ? 1 : 0;
  return element_status::ok;
}

template <typename T>
element_status integer_from_json(const json_value& value, T& out) {
  if constexpr (std::is_signed_v<T>) {
    if (value.IsInt64()) {
      const std::int64_t x = value.GetInt64();
      if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) return element_status::out_of_range;
      out = static_cast<T>(x);
      return element_status::ok;
    }
    if (value.IsUint64()) return element_status::out_of_range;  // above INT64_MAX
  } else {
    if (value.IsUint64()) {
      const std::uint64_t x = value.GetUint64();
      if (x > std::numeric_limits<T>::max()) return element_status::out_of_range;
      out = static_cast<T>(x);
      return element_status::ok;
    }
    if (value.IsInt64()) return element_status::out_of_range;  // negative
  }
  if (!value.IsNumber()) return element_status::not_number;

  // Written with a fraction or an exponent. 3.0 and 1e3 are whole numbers and
  // accepted; the bounds are powers of two, exact in double.
  const double d = value.GetDouble();
  if (std::isnan(d) || d != std::trunc(d)) return element_status::not_integer;
  constexpr double lower = static_cast<double>(std::numeric_limits<T>::min());
  constexpr double upper = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
  if (d < lower || d >= upper) return element_status::out_of_range;
  out = static_cast<T>(d);
  return element_status::ok;
}

element_status fp32_from_json(const json_value& value, float& out) {
  // Halfway between FLT_MAX and the next power of two: from here on, a finite
  // value rounds to infinity. Below it, 3.4028235e+38 (the shortest text for
  // FLT_MAX) is larger than FLT_MAX yet rounds to it.
  constexpr double overflow_threshold = 0x1.ffffffp127;
  if (!value.IsNumber()) return element_status::not_number;
  const double d = value.GetDouble();
  if (std::isfinite(d) && std::fabs(d) >= overflow_threshold) return element_status::out_of_range;
  out = static_cast<float>(d);
  return element_status::ok;
}

element_status fp64_from_json(const json_value& value, double& out) {
  if (!value.IsNumber()) return element_status::not_number;
  out = value.GetDouble();
  return element_status::ok;
}

template <std::uint16_t (*narrow)(double), std::uint16_t infinity>
element_status half_from_json(const json_value& value, std::uint16_t& out) {
  if (!value.IsNumber()) return element_status::not_number;
  const double d = value.GetDouble();
  out = narrow(d);
  if (std::isfinite(d) && (out & 0x7fffu) == infinity) return element_status::out_of_range;
  return element_status::ok;
}

// Visits the non-array values of `array` in row-major order. On failure
// `index` is the failing element's position and `failed` points at it.
template <typename Visit>
element_status walk_leaves(const json_value& array, std::size_t& index, const json_value*& failed, Visit& visit) {
  for (auto it = array.Begin(); it != array.End(); ++it) {
    if (it->IsArray()) {
      const auto status = walk_leaves(*it, index, failed, visit);
      if (status != element_status::ok) return status;
      continue;
    }
    const auto status = visit(*it, index);
    if (status != element_status::ok) {
      failed = &*it;
      return status;
    }
    ++index;
  }
  return element_status::ok;
}

// nullopt: nested deeper than max_data_depth.
std::optional<std::size_t> count_leaves(const json_value& array, int depth) {
  if (depth > max_data_depth) return std::nullopt;
  std::size_t count = 0;
  for (auto it = array.Begin(); it != array.End(); ++it) {
    if (!it->IsArray()) {
      ++count;
      continue;
    }
    const auto nested = count_leaves(*it, depth + 1);
    if (!nested) return std::nullopt;
    count += *nested;
  }
  return count;
}

template <typename T, element_status (*convert)(const json_value&, T&)>
element_status fill_fixed(const json_value& data, std::byte* out, std::size_t& index, const json_value*& failed) {
  auto visit = [out](const json_value& value, std::size_t i) {
    T element{};
    const auto status = convert(value, element);
    if (status == element_status::ok) std::memcpy(out + i * sizeof(T), &element, sizeof(T));
    return status;
  };
  return walk_leaves(data, index, failed, visit);
}

element_status fill_from_json(data_type type, const json_value& data, std::byte* out, std::size_t& index,
                              const json_value*& failed) {
  switch (type) {
    case data_type::bool_:
      return fill_fixed<std::uint8_t, bool_from_json>(data, out, index, failed);
    case data_type::uint8:
      return fill_fixed<std::uint8_t, integer_from_json<std::uint8_t>>(data, out, index, failed);
    case data_type::uint16:
      return fill_fixed<std::uint16_t, integer_from_json<std::uint16_t>>(data, out, index, failed);
    case data_type::uint32:
      return fill_fixed<std::uint32_t, integer_from_json<std::uint32_t>>(data, out, index, failed);
    case data_type::uint64:
      return fill_fixed<std::uint64_t, integer_from_json<std::uint64_t>>(data, out, index, failed);
    case data_type::int8:
      return fill_fixed<std::int8_t, integer_from_json<std::int8_t>>(data, out, index, failed);
    case data_type::int16:
      return fill_fixed<std::int16_t, integer_from_json<std::int16_t>>(data, out, index, failed);
    case data_type::int32:
      return fill_fixed<std::int32_t, integer_from_json<std::int32_t>>(data, out, index, failed);
    case data_type::int64:
      return fill_fixed<std::int64_t, integer_from_json<std::int64_t>>(data, out, index, failed);
    case data_type::fp16:
      return fill_fixed<std::uint16_t, half_from_json<fp16_from_double, 0x7c00u>>(data, out, index, failed);
    case data_type::bf16:
      return fill_fixed<std::uint16_t, half_from_json<bf16_from_double, 0x7f80u>>(data, out, index, failed);
    case data_type::fp32:
      return fill_fixed<float, fp32_from_json>(data, out, index, failed);
    case data_type::fp64:
      return fill_fixed<double, fp64_from_json>(data, out, index, failed);
    case data_type::bytes:
    case data_type::invalid:
      break;
  }
  return element_status::ok;
}

std::string element_problem(element_status status, const json_value& value, data_type type) {
  const std::string type_name(kserve_name(type));
  switch (status) {
    case element_status::not_boolean:
      return "must be true or false for BOOL, got " + json_type_name(value);
    case element_status::not_number:
      return "must be a number for " + type_name + ", got " + json_type_name(value);
    case element_status::not_integer:
      return "(" + number_text(value) + ") is not an integer, as " + type_name + " requires";
    case element_status::out_of_range:
      return "(" + number_text(value) + ") is out of range for " + type_name;
    case element_status::not_string:
      return "must be a string for BYTES, got " + json_type_name(value);
    case element_status::ok:
      break;
  }
  return "is invalid";
}

std::variant<tensor, error> tensor_from_json(tensor header, std::size_t count, const json_value& data,
                                             const std::string& label) {
  if (!data.IsArray()) return invalid(label + ": \"data\" must be an array, got " + json_type_name(data));
  const auto leaves = count_leaves(data, 1);
  if (!leaves)
    return invalid(label + ": \"data\" nests arrays deeper than " + std::to_string(max_data_depth) + " levels");
  if (*leaves != count) {
    return invalid(label + ": shape " + shape_text(header.shape) + " needs " + std::to_string(count) +
                   " elements, data has " + std::to_string(*leaves));
  }

  std::size_t index = 0;
  const json_value* failed = nullptr;
  element_status status = element_status::ok;
  tensor result;
  if (header.type == data_type::bytes) {
    std::size_t total = 0;
    auto measure = [&total](const json_value& value, std::size_t) {
      if (!value.IsString()) return element_status::not_string;
      total += sizeof(std::uint32_t) + value.GetStringLength();
      return element_status::ok;
    };
    status = walk_leaves(data, index, failed, measure);
    if (status == element_status::ok) {
      result = make_owned_tensor(std::move(header.name), header.type, std::move(header.shape), total);
      std::byte* out = mutable_data(result);
      auto write = [&out](const json_value& value, std::size_t) {
        const std::uint32_t length = value.GetStringLength();
        store_length_prefix(out, length);
        std::memcpy(out + sizeof length, value.GetString(), length);
        out += sizeof length + length;
        return element_status::ok;
      };
      index = 0;
      walk_leaves(data, index, failed, write);
    }
  } else {
    result = make_owned_tensor(std::move(header.name), header.type, std::move(header.shape),
                               count * element_size(header.type));
    status = fill_from_json(result.type, data, mutable_data(result), index, failed);
  }
  if (status != element_status::ok) {
    return invalid(label + ": data element " + std::to_string(index) + " " +
                   element_problem(status, *failed, header.type));
  }
  return result;
}

// ---- binary tensor data ----

struct binary_section {
  std::shared_ptr<const std::string> body;
  std::size_t offset{0};  // where the section starts in body
  std::size_t used{0};    // bytes claimed by the inputs so far
  bool header_present{false};

  std::size_t size() const { return body->size() - offset; }
};

std::variant<tensor, error> tensor_from_binary(tensor header, std::size_t count, std::uint64_t byte_size,
                                               binary_section& section, const std::string& label) {
  if (header.type != data_type::bytes) {
    const std::size_t expected = count * element_size(header.type);
    if (byte_size != expected) {
      return invalid(label + ": binary_data_size " + std::to_string(byte_size) + " does not match shape " +
                     shape_text(header.shape) + " of " + std::string(kserve_name(header.type)) + ", which needs " +
                     std::to_string(expected) + " bytes");
    }
  }
  const std::size_t remaining = section.size() - section.used;
  if (byte_size > remaining) {
    if (!section.header_present) {
      return invalid(label + ": binary_data_size is " + std::to_string(byte_size) +
                     " but the request has no Inference-Header-Content-Length, so no binary section");
    }
    return invalid(label + ": binary_data_size " + std::to_string(byte_size) +
                   " runs past the end of the binary section (" + std::to_string(remaining) + " bytes left)");
  }

  const auto* begin = reinterpret_cast<const std::byte*>(section.body->data()) + section.offset + section.used;
  const std::span<const std::byte> data(begin, static_cast<std::size_t>(byte_size));
  if (header.type == data_type::bytes) {
    const auto problem = bytes_elements_problem(data, count, "binary_data_size", "binary BYTES data");
    if (!problem.empty()) return invalid(label + ": " + problem);
  }
  section.used += data.size();
  header.data = data;
  header.owner = section.body;
  return header;
}

// ---- the request ----

// `kind` is "input" or "output": a response's outputs have the inputs' form.
std::variant<tensor, error> decode_tensor(const json_value& input, std::size_t position, binary_section& section,
                                          std::string_view kind = "input") {
  const std::string where = std::string(kind) + "s[" + std::to_string(position) + "]";
  if (!input.IsObject()) return invalid(where + " must be an object, got " + json_type_name(input));
  const auto* name = find_member(input, "name");
  if (!name) return invalid(where + " has no \"name\"");
  if (!name->IsString()) return invalid(where + ": \"name\" must be a string, got " + json_type_name(*name));
  const std::string label = quoted_label(kind, string_of(*name));

  tensor header;
  header.name.assign(string_of(*name));

  const auto* datatype = find_member(input, "datatype");
  if (!datatype) return invalid(label + ": missing \"datatype\"");
  if (!datatype->IsString())
    return invalid(label + ": \"datatype\" must be a string, got " + json_type_name(*datatype));
  const auto type = parse_kserve_data_type(string_of(*datatype));
  if (!type) return invalid(label + ": unknown datatype '" + std::string(string_of(*datatype)) + "'");
  header.type = *type;

  const auto* shape = find_member(input, "shape");
  if (!shape) return invalid(label + ": missing \"shape\"");
  if (!shape->IsArray()) return invalid(label + ": \"shape\" must be an array, got " + json_type_name(*shape));
  header.shape.reserve(shape->Size());
  for (auto it = shape->Begin(); it != shape->End(); ++it) {
    if (!it->IsInt64()) {
      return invalid(label + ": \"shape\" must hold integers, dimension " + std::to_string(header.shape.size()) +
                     " is " + (it->IsNumber() ? number_text(*it) : json_type_name(*it)));
    }
    header.shape.push_back(it->GetInt64());
  }
  auto counted = checked_element_count(label, header.shape, header.type);
  if (auto* failure = std::get_if<error>(&counted)) return std::move(*failure);
  const auto elements = std::get<std::size_t>(counted);

  std::optional<std::uint64_t> binary_data_size;
  if (const auto* parameters = find_member(input, "parameters")) {
    if (!parameters->IsObject()) {
      return invalid(label + ": \"parameters\" must be an object, got " + json_type_name(*parameters));
    }
    if (const auto* size = find_member(*parameters, "binary_data_size")) {
      if (!size->IsUint64()) return invalid(label + ": binary_data_size must be a non-negative integer");
      binary_data_size = size->GetUint64();
    }
    if (find_member(*parameters, "shared_memory_region")) {
      return invalid(label + ": shared memory inputs are not supported");
    }
  }

  const auto* data = find_member(input, "data");
  if (binary_data_size) {
    if (data) return invalid(label + ": has both \"data\" and binary_data_size; send one");
    return tensor_from_binary(std::move(header), elements, *binary_data_size, section, label);
  }
  if (!data) return invalid(label + ": missing \"data\" (or a binary_data_size parameter)");
  return tensor_from_json(std::move(header), elements, *data, label);
}

std::optional<error> decode_request_parameters(const json_value& parameters, decoded_infer_request& request) {
  if (!parameters.IsObject()) return invalid("\"parameters\" must be an object, got " + json_type_name(parameters));
  if (const auto* binary = find_member(parameters, "binary_data_output")) {
    if (!binary->IsBool()) return invalid("parameters.binary_data_output must be a boolean");
    request.binary_outputs_default = binary->GetBool();
  }
  if (const auto* priority = find_member(parameters, "priority")) {
    if (!priority->IsUint()) {
      return invalid("parameters.priority must be an integer from 0 to " +
                     std::to_string(std::numeric_limits<std::uint32_t>::max()));
    }
    request.priority = priority->GetUint();
  }
  if (const auto* timeout = find_member(parameters, "timeout")) {
    using rep = std::chrono::microseconds::rep;
    if (!timeout->IsUint64() || timeout->GetUint64() > static_cast<std::uint64_t>(std::numeric_limits<rep>::max())) {
      return invalid("parameters.timeout must be a non-negative integer number of microseconds");
    }
    request.timeout = std::chrono::microseconds(static_cast<rep>(timeout->GetUint64()));
  }
  for (auto it = parameters.MemberBegin(); it != parameters.MemberEnd(); ++it) {
    const auto key = string_of(it->name);
    if (key == "binary_data_output" || key == "priority" || key == "timeout") continue;
    const auto& value = it->value;
    if (value.IsString()) {
      request.parameters.emplace_back(key, string_of(value));
    } else if (value.IsBool()) {
      request.parameters.emplace_back(key, value.GetBool() ? "true" : "false");
    } else if (value.IsNumber()) {
      request.parameters.emplace_back(key, number_text(value));
    }
  }
  return std::nullopt;
}

std::optional<error> decode_requested_outputs(const json_value& outputs, decoded_infer_request& request) {
  if (!outputs.IsArray()) return invalid("\"outputs\" must be an array, got " + json_type_name(outputs));
  request.outputs.reserve(outputs.Size());
  for (rapidjson::SizeType i = 0; i < outputs.Size(); ++i) {
    const auto& output = outputs[i];
    const std::string where = "outputs[" + std::to_string(i) + "]";
    if (!output.IsObject()) return invalid(where + " must be an object, got " + json_type_name(output));
    const auto* name = find_member(output, "name");
    if (!name) return invalid(where + " has no \"name\"");
    if (!name->IsString()) return invalid(where + ": \"name\" must be a string, got " + json_type_name(*name));
    const std::string label = quoted_label("output", string_of(*name));

    requested_output requested{std::string(string_of(*name)), request.binary_outputs_default};
    if (const auto* parameters = find_member(output, "parameters")) {
      if (!parameters->IsObject()) {
        return invalid(label + ": \"parameters\" must be an object, got " + json_type_name(*parameters));
      }
      if (const auto* binary = find_member(*parameters, "binary_data")) {
        if (!binary->IsBool()) return invalid(label + ": binary_data must be a boolean");
        requested.binary = binary->GetBool();
      }
      if (find_member(*parameters, "classification")) {
        return invalid(label + ": the classification extension is not supported");
      }
      if (find_member(*parameters, "shared_memory_region")) {
        return invalid(label + ": shared memory outputs are not supported");
      }
    }
    for (const auto& earlier : request.outputs) {
      if (earlier.name == requested.name) return invalid(label + " is requested twice");
    }
    request.outputs.push_back(std::move(requested));
  }
  return std::nullopt;
}

}  // namespace

std::variant<decoded_infer_request, error> decode_infer_request(std::shared_ptr<const std::string> body,
                                                                std::optional<std::size_t> json_length) {
  if (!body) body = std::make_shared<const std::string>();
  if (json_length && *json_length > body->size()) {
    return invalid("Inference-Header-Content-Length " + std::to_string(*json_length) + " is larger than the " +
                   std::to_string(body->size()) + "-byte body");
  }
  const std::size_t header_size = json_length.value_or(body->size());

  rapidjson::Document document;
  document.Parse<parse_flags>(body->data(), header_size);
  if (document.HasParseError()) {
    return invalid("malformed JSON at offset " + std::to_string(document.GetErrorOffset()) + ": " +
                   rapidjson::GetParseError_En(document.GetParseError()));
  }
  if (!document.IsObject()) return invalid("the request must be a JSON object, got " + json_type_name(document));

  decoded_infer_request request;
  if (const auto* id = find_member(document, "id")) {
    if (!id->IsString()) return invalid("\"id\" must be a string, got " + json_type_name(*id));
    request.id.assign(string_of(*id));
  }
  if (const auto* parameters = find_member(document, "parameters")) {
    if (auto failure = decode_request_parameters(*parameters, request)) return std::move(*failure);
  }

  const auto* inputs = find_member(document, "inputs");
  if (!inputs) return invalid("the request has no \"inputs\"");
  if (!inputs->IsArray()) return invalid("\"inputs\" must be an array, got " + json_type_name(*inputs));
  binary_section section{body, header_size, 0, json_length.has_value()};
  request.inputs.reserve(inputs->Size());
  for (rapidjson::SizeType i = 0; i < inputs->Size(); ++i) {
    auto decoded = decode_tensor((*inputs)[i], i, section);
    if (auto* failure = std::get_if<error>(&decoded)) return std::move(*failure);
    auto& input = std::get<tensor>(decoded);
    for (const auto& earlier : request.inputs) {
      if (earlier.name == input.name) return invalid(quoted_label("input", input.name) + " appears twice");
    }
    request.inputs.push_back(std::move(input));
  }
  if (section.used != section.size()) {
    return invalid("the binary section holds " + std::to_string(section.size()) +
                   " bytes but the inputs' binary_data_size values add up to " + std::to_string(section.used));
  }

  if (const auto* outputs = find_member(document, "outputs")) {
    if (auto failure = decode_requested_outputs(*outputs, request)) return std::move(*failure);
  }
  return request;
}

std::variant<decoded_infer_response, error> decode_infer_response(std::shared_ptr<const std::string> body,
                                                                  std::optional<std::size_t> json_length) {
  if (!body) body = std::make_shared<const std::string>();
  if (json_length && *json_length > body->size()) {
    return invalid("header length " + std::to_string(*json_length) + " is larger than the " +
                   std::to_string(body->size()) + "-byte body");
  }
  const std::size_t header_size = json_length.value_or(body->size());
  rapidjson::Document document;
  document.Parse<parse_flags>(body->data(), header_size);
  if (document.HasParseError()) {
    return invalid("malformed JSON at offset " + std::to_string(document.GetErrorOffset()) + ": " +
                   rapidjson::GetParseError_En(document.GetParseError()));
  }
  if (!document.IsObject()) return invalid("the response must be a JSON object, got " + json_type_name(document));

  decoded_infer_response response;
  if (const auto* id = find_member(document, "id"); id && id->IsString()) response.id.assign(string_of(*id));
  const auto* outputs = find_member(document, "outputs");
  if (!outputs) return invalid("the response has no \"outputs\"");
  if (!outputs->IsArray()) return invalid("\"outputs\" must be an array, got " + json_type_name(*outputs));
  binary_section section{body, header_size, 0, json_length.has_value()};
  response.outputs.reserve(outputs->Size());
  for (rapidjson::SizeType i = 0; i < outputs->Size(); ++i) {
    auto decoded = decode_tensor((*outputs)[i], i, section, "output");
    if (auto* failure = std::get_if<error>(&decoded)) return std::move(*failure);
    response.outputs.push_back(std::get<tensor>(std::move(decoded)));
  }
  if (section.used != section.size()) {
    return invalid("the binary section holds " + std::to_string(section.size()) +
                   " bytes but the outputs' binary_data_size values add up to " + std::to_string(section.used));
  }
  return response;
}

namespace {

// ---- tensor bytes to JSON "data" ----

template <typename T>
T load(const std::byte* in) {
  T value;
  std::memcpy(&value, in, sizeof value);
  return value;
}

char* write_literal(char* out, std::string_view text) {
  std::memcpy(out, text.data(), text.size());
  return out + text.size();
}

// As RapidJSON (kWriteNanAndInfFlag) and Python's json module write them.
char* write_non_finite(char* out, double value) {
  if (std::isnan(value)) return write_literal(out, "NaN");
  return write_literal(out, value < 0 ? "-Infinity" : "Infinity");
}

// JSON does not tell 1 from 1.0, but people and some readers do: keep floats
// looking like floats.
char* finish_float(char* begin, char* end) {
  for (const char* c = begin; c != end; ++c) {
    if (*c == '.' || *c == 'e') return end;
  }
  return write_literal(end, ".0");
}

// Shortest text that reads back as the same value at the tensor's own
// precision: an FP32 0.1 is written 0.1, not 0.10000000149011612.
template <typename T>
char* write_float(char* out, T value) {
  if (!std::isfinite(value)) return write_non_finite(out, value);
  return finish_float(out, std::to_chars(out, out + max_number_chars, value).ptr);
}

// The same for 16-bit floats, which the standard library cannot format: find
// the fewest significant digits that read back as the same bits.
template <std::uint16_t (*narrow)(double), double (*widen)(std::uint16_t), int max_digits>
char* write_half(char* out, std::uint16_t bits) {
  const double value = widen(bits);
  if (!std::isfinite(value)) return write_non_finite(out, value);
  double shortest = value;
  char digits[max_number_chars];
  for (int precision = 0; precision < max_digits; ++precision) {
    const auto printed = std::to_chars(digits, digits + sizeof digits, value, std::chars_format::scientific, precision);
    double read_back = 0;
    std::from_chars(digits, printed.ptr, read_back);
    if (narrow(read_back) == bits) {
      shortest = read_back;
      break;
    }
  }
  return write_float(out, shortest);
}

// Writes the elements and the closing ']' of an array whose '[' the writer
// has written. Room is reserved per chunk for the longest element and the
// unused part handed back, so a large tensor costs one pass and no copies.
template <typename Format>
void append_array_tail(rapidjson::StringBuffer& out, std::size_t count, Format format) {
  constexpr std::size_t chunk = 1024;
  for (std::size_t i = 0; i < count;) {
    const std::size_t chunk_end = std::min(count, i + chunk);
    const std::size_t room = (chunk_end - i) * (max_number_chars + 1);
    char* const begin = out.Push(room);
    char* cursor = begin;
    for (; i < chunk_end; ++i) {
      if (i != 0) *cursor++ = ',';
      cursor = format(cursor, i);
    }
    out.Pop(room - static_cast<std::size_t>(cursor - begin));
  }
  out.Put(']');
}

template <typename T, typename Format>
void append_elements(rapidjson::StringBuffer& out, std::span<const std::byte> data, Format format) {
  const std::byte* base = data.data();
  append_array_tail(out, data.size() / sizeof(T), [base, &format](char* cursor, std::size_t i) {
    return format(cursor, load<T>(base + i * sizeof(T)));
  });
}

template <typename T>
void append_integers(rapidjson::StringBuffer& out, std::span<const std::byte> data) {
  append_elements<T>(out, data,
                     [](char* cursor, T value) { return std::to_chars(cursor, cursor + max_number_chars, value).ptr; });
}

void append_numbers_tail(rapidjson::StringBuffer& out, const tensor& t) {
  switch (t.type) {
    case data_type::bool_:
      return append_elements<std::uint8_t>(out, t.data, [](char* cursor, std::uint8_t value) {
        return write_literal(cursor, value != 0 ? "true" : "false");
      });
    case data_type::uint8:
      return append_integers<std::uint8_t>(out, t.data);
    case data_type::uint16:
      return append_integers<std::uint16_t>(out, t.data);
    case data_type::uint32:
      return append_integers<std::uint32_t>(out, t.data);
    case data_type::uint64:
      return append_integers<std::uint64_t>(out, t.data);
    case data_type::int8:
      return append_integers<std::int8_t>(out, t.data);
    case data_type::int16:
      return append_integers<std::int16_t>(out, t.data);
    case data_type::int32:
      return append_integers<std::int32_t>(out, t.data);
    case data_type::int64:
      return append_integers<std::int64_t>(out, t.data);
    case data_type::fp16:
      return append_elements<std::uint16_t>(out, t.data, write_half<fp16_from_double, fp16_to_double, 5>);
    case data_type::bf16:
      return append_elements<std::uint16_t>(out, t.data, write_half<bf16_from_double, bf16_to_double, 4>);
    case data_type::fp32:
      return append_elements<float>(out, t.data, write_float<float>);
    case data_type::fp64:
      return append_elements<double>(out, t.data, write_float<double>);
    case data_type::bytes:
    case data_type::invalid:
      break;
  }
  out.Put(']');
}

template <typename Visit>
void for_each_bytes_element(std::span<const std::byte> data, Visit visit) {
  std::size_t position = 0;
  while (data.size() - position >= sizeof(std::uint32_t)) {
    const std::uint32_t length = load_length_prefix(data.data() + position);
    position += sizeof length;
    if (length > data.size() - position) return;
    visit(reinterpret_cast<const char*>(data.data() + position), length);
    position += length;
  }
}

// A guess at the JSON text per element, so the buffer rarely grows.
std::size_t json_chars_per_element(data_type type) {
  switch (type) {
    case data_type::bool_:
      return 6;
    case data_type::uint8:
    case data_type::int8:
      return 4;
    case data_type::uint16:
    case data_type::int16:
      return 6;
    case data_type::uint32:
    case data_type::int32:
    case data_type::fp16:
    case data_type::bf16:
      return 8;
    case data_type::uint64:
    case data_type::int64:
    case data_type::fp32:
      return 12;
    case data_type::fp64:
      return 20;
    case data_type::bytes:
    case data_type::invalid:
      break;
  }
  return 4;
}

void write_string(json_writer& writer, std::string_view text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

struct selected_output {
  const tensor* output;
  bool binary;
};

}  // namespace

encoded_infer_response encode_infer_response(std::string_view model_name, std::int64_t model_version,
                                             std::string_view id, const std::vector<tensor>& outputs,
                                             const std::vector<requested_output>& requested,
                                             bool binary_outputs_default) {
  std::vector<selected_output> selected;
  if (requested.empty()) {
    selected.reserve(outputs.size());
    for (const auto& output : outputs) selected.push_back({&output, binary_outputs_default});
  } else {
    selected.reserve(requested.size());
    for (const auto& wanted : requested) {
      const auto it = std::find_if(outputs.begin(), outputs.end(),
                                   [&wanted](const tensor& output) { return output.name == wanted.name; });
      if (it != outputs.end()) selected.push_back({&*it, wanted.binary});
    }
  }

  std::size_t estimate = 128 + model_name.size() + id.size();
  std::size_t binary_size = 0;
  bool any_binary = false;
  for (const auto& [output, binary] : selected) {
    estimate += 96 + output->name.size() + 21 * output->shape.size();
    if (binary) {
      any_binary = true;
      binary_size += output->data.size();
    } else if (output->type == data_type::bytes) {
      estimate +=
          output->data.size() + 2 * static_cast<std::size_t>(std::max<std::int64_t>(output->element_count(), 0));
    } else {
      const std::size_t width = std::max<std::size_t>(element_size(output->type), 1);
      estimate += json_chars_per_element(output->type) * (output->data.size() / width);
    }
  }

  rapidjson::StringBuffer buffer(nullptr, estimate);
  json_writer writer(buffer);
  writer.StartObject();
  writer.Key("model_name");
  write_string(writer, model_name);
  writer.Key("model_version");
  write_string(writer, std::to_string(model_version));
  if (!id.empty()) {
    writer.Key("id");
    write_string(writer, id);
  }
  writer.Key("outputs");
  writer.StartArray();
  for (const auto& [output, binary] : selected) {
    writer.StartObject();
    writer.Key("name");
    write_string(writer, output->name);
    writer.Key("datatype");
    write_string(writer, kserve_name(output->type));
    writer.Key("shape");
    writer.StartArray();
    for (const auto dim : output->shape) writer.Int64(dim);
    writer.EndArray();
    if (binary) {
      writer.Key("parameters");
      writer.StartObject();
      writer.Key("binary_data_size");
      writer.Uint64(output->data.size());
      writer.EndObject();
    } else if (output->type == data_type::bytes) {
      writer.Key("data");
      writer.StartArray();
      for_each_bytes_element(output->data, [&writer](const char* text, std::uint32_t length) {
        writer.String(text, static_cast<rapidjson::SizeType>(length));
      });
      writer.EndArray();
    } else {
      // The writer takes the array as one raw value and writes its '['; the
      // elements go straight into the buffer, without the writer's per-value
      // bookkeeping for each element of a possibly large tensor.
      writer.Key("data");
      writer.RawValue("[", 1, rapidjson::kArrayType);
      append_numbers_tail(buffer, *output);
    }
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();

  encoded_infer_response response;
  response.body.reserve(buffer.GetSize() + binary_size);
  response.body.append(buffer.GetString(), buffer.GetSize());
  if (any_binary) {
    response.json_length = response.body.size();
    for (const auto& [output, binary] : selected) {
      if (binary) response.body.append(reinterpret_cast<const char*>(output->data.data()), output->data.size());
    }
  }
  return response;
}

encoded_infer_request encode_infer_request(std::string_view id, const std::vector<tensor>& inputs,
                                           const std::vector<std::string>& requested_outputs,
                                           const std::vector<std::pair<std::string, std::string>>& parameters) {
  std::size_t estimate = 64 + id.size();
  std::size_t binary_size = 0;
  for (const auto& input : inputs) {
    estimate += 96 + input.name.size() + 21 * input.shape.size();
    binary_size += input.data.size();
  }
  for (const auto& name : requested_outputs) estimate += 64 + name.size();
  for (const auto& [key, value] : parameters) estimate += 8 + key.size() + value.size();

  rapidjson::StringBuffer buffer(nullptr, estimate);
  json_writer writer(buffer);
  writer.StartObject();
  if (!id.empty()) {
    writer.Key("id");
    write_string(writer, id);
  }
  writer.Key("inputs");
  writer.StartArray();
  for (const auto& input : inputs) {
    writer.StartObject();
    writer.Key("name");
    write_string(writer, input.name);
    writer.Key("datatype");
    write_string(writer, kserve_name(input.type));
    writer.Key("shape");
    writer.StartArray();
    for (const auto dim : input.shape) writer.Int64(dim);
    writer.EndArray();
    writer.Key("parameters");
    writer.StartObject();
    writer.Key("binary_data_size");
    writer.Uint64(input.data.size());
    writer.EndObject();
    writer.EndObject();
  }
  writer.EndArray();
  if (!requested_outputs.empty()) {
    writer.Key("outputs");
    writer.StartArray();
    for (const auto& name : requested_outputs) {
      writer.StartObject();
      writer.Key("name");
      write_string(writer, name);
      writer.Key("parameters");
      writer.StartObject();
      writer.Key("binary_data");
      writer.Bool(true);
      writer.EndObject();
      writer.EndObject();
    }
    writer.EndArray();
  }
  writer.Key("parameters");
  writer.StartObject();
  writer.Key("binary_data_output");
  writer.Bool(true);
  for (const auto& [key, value] : parameters) {
    write_string(writer, key);
    write_string(writer, value);
  }
  writer.EndObject();
  writer.EndObject();

  encoded_infer_request request;
  request.body.reserve(buffer.GetSize() + binary_size);
  request.body.append(buffer.GetString(), buffer.GetSize());
  request.json_length = request.body.size();
  for (const auto& input : inputs) {
    request.body.append(reinterpret_cast<const char*>(input.data.data()), input.data.size());
  }
  return request;
}

std::string encode_error(std::string_view message) {
  rapidjson::StringBuffer buffer(nullptr, message.size() + 16);
  json_writer writer(buffer);
  writer.StartObject();
  writer.Key("error");
  write_string(writer, message);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace surge::http
