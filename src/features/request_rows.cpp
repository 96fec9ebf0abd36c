#include "features/request_rows.hpp"

#include <charconv>
#include <cstring>
#include <limits>

namespace surge::features {

namespace {

template <typename T>
double element(const tensor& t, std::int64_t i) {
  T value;
  std::memcpy(&value, t.data.data() + static_cast<std::size_t>(i) * sizeof(T), sizeof(T));
  return static_cast<double>(value);
}

double number_at(const tensor& t, std::int64_t i) {
  switch (t.type) {
    case data_type::bool_: return t.data[static_cast<std::size_t>(i)] != std::byte{0} ? 1.0 : 0.0;
    case data_type::uint8: return element<std::uint8_t>(t, i);
    case data_type::uint16: return element<std::uint16_t>(t, i);
    case data_type::uint32: return element<std::uint32_t>(t, i);
    case data_type::uint64: return element<std::uint64_t>(t, i);
    case data_type::int8: return element<std::int8_t>(t, i);
    case data_type::int16: return element<std::int16_t>(t, i);
    case data_type::int32: return element<std::int32_t>(t, i);
    case data_type::int64: return element<std::int64_t>(t, i);
    case data_type::fp32: return element<float>(t, i);
    case data_type::fp64: return element<double>(t, i);
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

const tensor* input_named(const inference_request& request, const std::string& name) {
  for (const auto& t : request.inputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

std::variant<request_rows, error> read_request_rows(const inference_request& request, const feature_spec& spec) {
  request_rows rows;
  const auto* entity = input_named(request, spec.entity_input);
  if (entity == nullptr) return make_error(error_code::invalid_argument, "input '" + spec.entity_input + "' is missing");
  std::size_t at = 0;
  while (at + 4 <= entity->data.size()) {
    std::uint32_t length;
    std::memcpy(&length, entity->data.data() + at, 4);
    at += 4;
    if (length > entity->data.size() - at) break;
    rows.entities.emplace_back(reinterpret_cast<const char*>(entity->data.data() + at), length);
    at += length;
  }
  rows.rows = static_cast<std::int64_t>(rows.entities.size());
  if (rows.rows != entity->element_count()) {
    return make_error(error_code::invalid_argument, "input '" + spec.entity_input + "' is not valid BYTES");
  }
  for (const auto& name : spec.request_inputs) {
    const auto* field = input_named(request, name);
    if (field == nullptr) return make_error(error_code::invalid_argument, "input '" + name + "' is missing");
    if (field->element_count() != rows.rows) {
      return make_error(error_code::invalid_argument, "input '" + name + "' has " +
                                                          std::to_string(field->element_count()) + " rows; input '" +
                                                          spec.entity_input + "' " + std::to_string(rows.rows));
    }
    std::vector<double> values(static_cast<std::size_t>(rows.rows));
    for (std::int64_t r = 0; r < rows.rows; ++r) values[static_cast<std::size_t>(r)] = number_at(*field, r);
    rows.fields.push_back(std::move(values));
  }
  for (const auto& [key, value] : request.parameters) {
    if (key == "event_time_ms") {
      std::int64_t t = 0;
      const auto parsed = std::from_chars(value.data(), value.data() + value.size(), t);
      if (value.empty() || parsed.ec != std::errc{} || parsed.ptr != value.data() + value.size()) {
        return make_error(error_code::invalid_argument,
                          "parameter event_time_ms must be an integer (ms since the epoch), got '" +
                              value.substr(0, 64) + "'");
      }
      rows.event_time_ms = t;
    } else if (key == "return_features") {
      if (value != "true" && value != "false") {
        return make_error(error_code::invalid_argument, "parameter return_features must be true or false");
      }
      rows.return_features = value == "true";
    }
  }
  return rows;
}

tensor assemble_vector(const request_rows& rows, const feature_spec& spec,
                       const std::vector<std::vector<float>>& windows,
                       const std::vector<std::vector<double>>& attributes, bool batched) {
  const auto width = static_cast<std::int64_t>(spec.vector.size());
  std::vector<std::int64_t> shape;
  if (batched) shape.push_back(rows.rows);
  shape.push_back(width);
  auto t = make_owned_tensor(spec.scoring_input, data_type::fp32, std::move(shape),
                             static_cast<std::size_t>(rows.rows * width) * sizeof(float));
  auto* out = reinterpret_cast<float*>(mutable_data(t));
  for (std::int64_t r = 0; r < rows.rows; ++r) {
    const auto row = static_cast<std::size_t>(r);
    for (const auto& element : spec.vector) {
      switch (element.from) {
        case vector_element::source::request_input:
          *out++ = static_cast<float>(rows.fields[element.index][row]);
          break;
        case vector_element::source::window: *out++ = windows[row][element.index]; break;
        case vector_element::source::static_attribute:
          *out++ = static_cast<float>(attributes[row][element.index]);
          break;
      }
    }
  }
  return t;
}

}  // namespace surge::features
