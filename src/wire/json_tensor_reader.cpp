#include "wire/json_tensor_reader.hpp"

#include <rapidjson/error/en.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/client_text.hpp"
#include "wire/half_float.hpp"
#include "wire/tensor_checks.hpp"

namespace surge::wire {

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

}  // namespace

// ---- the request ----

// `kind` is "input" or "output": a response's outputs have the inputs' form.
std::variant<parsed_body, error> parse_body(std::shared_ptr<const std::string> body,
                                            std::optional<std::size_t> json_length, std::string_view length_name,
                                            std::string_view what) {
  if (!body) body = std::make_shared<const std::string>();
  if (json_length && *json_length > body->size()) {
    return invalid(std::string(length_name) + " " + std::to_string(*json_length) + " is larger than the " +
                   std::to_string(body->size()) + "-byte body");
  }
  const std::size_t header_size = json_length.value_or(body->size());
  parsed_body parsed;
  parsed.document.Parse<parse_flags>(body->data(), header_size);
  if (parsed.document.HasParseError()) {
    return invalid("malformed JSON at offset " + std::to_string(parsed.document.GetErrorOffset()) + ": " +
                   rapidjson::GetParseError_En(parsed.document.GetParseError()));
  }
  if (!parsed.document.IsObject()) {
    return invalid("the " + std::string(what) + " must be a JSON object, got " + json_type_name(parsed.document));
  }
  parsed.section = binary_section{std::move(body), header_size, 0, json_length.has_value()};
  return parsed;
}

std::variant<tensor, error> decode_tensor(const json_value& input, std::size_t position, binary_section& section,
                                          std::string_view kind, std::optional<shared_memory_ref>* shared_memory) {
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
  if (!type) return invalid(label + ": unknown datatype '" + client_text(string_of(*datatype)) + "'");
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
      if (!shared_memory) return invalid(label + ": a shared memory region is not allowed here");
      auto region = decode_shared_memory_parameters(*parameters, label);
      if (auto* failure = std::get_if<error>(&region)) return std::move(*failure);
      if (binary_data_size || find_member(input, "data")) {
        return invalid(label + ": names a shared_memory_region and also carries data; send one");
      }
      *shared_memory = std::get<std::optional<shared_memory_ref>>(std::move(region));
      return header;
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

std::variant<std::optional<shared_memory_ref>, error> decode_shared_memory_parameters(const json_value& parameters,
                                                                                      const std::string& label) {
  const auto* region = find_member(parameters, "shared_memory_region");
  if (!region) return std::optional<shared_memory_ref>{};
  if (!region->IsString() || region->GetStringLength() == 0) {
    return invalid(label + ": shared_memory_region must be a non-empty string");
  }
  shared_memory_ref ref;
  ref.region.assign(string_of(*region));
  const auto* size = find_member(parameters, "shared_memory_byte_size");
  if (!size) return invalid(label + ": names a shared_memory_region but no shared_memory_byte_size");
  if (!size->IsUint64()) return invalid(label + ": shared_memory_byte_size must be a non-negative integer");
  ref.byte_size = size->GetUint64();
  if (const auto* offset = find_member(parameters, "shared_memory_offset")) {
    if (!offset->IsUint64()) return invalid(label + ": shared_memory_offset must be a non-negative integer");
    ref.offset = offset->GetUint64();
  }
  return std::optional<shared_memory_ref>(std::move(ref));
}

}  // namespace surge::wire
