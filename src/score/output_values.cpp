#include "score/output_values.hpp"

#include <charconv>
#include <cstring>
#include <vector>

namespace surge::score {

namespace {

template <typename T>
void append_number(std::string& out, const std::byte* element) {
  T value;
  std::memcpy(&value, element, sizeof value);
  char text[64];
  const auto written = std::to_chars(text, text + sizeof text, value);
  out.append(text, written.ptr);
}

void append_element(std::string& out, data_type type, const std::byte* element) {
  switch (type) {
    case data_type::bool_: out += (*reinterpret_cast<const unsigned char*>(element) != 0) ? "true" : "false"; break;
    case data_type::uint8: append_number<std::uint8_t>(out, element); break;
    case data_type::uint16: append_number<std::uint16_t>(out, element); break;
    case data_type::uint32: append_number<std::uint32_t>(out, element); break;
    case data_type::uint64: append_number<std::uint64_t>(out, element); break;
    case data_type::int8: append_number<std::int8_t>(out, element); break;
    case data_type::int16: append_number<std::int16_t>(out, element); break;
    case data_type::int32: append_number<std::int32_t>(out, element); break;
    case data_type::int64: append_number<std::int64_t>(out, element); break;
    case data_type::fp32: append_number<float>(out, element); break;
    case data_type::fp64: append_number<double>(out, element); break;
    default: break;
  }
}

// The BYTES elements of a tensor, in order; empty when the encoding is broken.
std::vector<std::string_view> bytes_elements(const tensor& t) {
  std::vector<std::string_view> elements;
  std::size_t at = 0;
  while (at + 4 <= t.data.size()) {
    std::uint32_t length;
    std::memcpy(&length, t.data.data() + at, 4);
    at += 4;
    if (length > t.data.size() - at) return {};
    elements.emplace_back(reinterpret_cast<const char*>(t.data.data() + at), length);
    at += length;
  }
  return elements;
}

}  // namespace

std::string_view sql_type(data_type type) {
  switch (type) {
    case data_type::bool_: return "boolean";
    case data_type::fp32:
    case data_type::fp64: return "double precision";
    case data_type::bytes: return "text";
    default: return "bigint";  // every integer type fits, but uint64 past 2^63
  }
}

std::optional<std::string> append_scores(const inference_response& response, const row_page& page,
                                         const column_mapping& mapping, const request_rows& request,
                                         page_result& result) {
  const auto rows = static_cast<std::int64_t>(request.rows.size());
  struct column {
    const tensor* t;
    std::int64_t width;
    std::vector<std::string_view> strings;
  };
  std::vector<column> columns;
  for (const auto& binding : mapping.outputs) {
    const tensor* found = nullptr;
    for (const auto& t : response.outputs) {
      if (t.name == binding.output) found = &t;
    }
    if (found == nullptr) return "the model's answer has no output '" + binding.output + "'";
    const auto elements = found->element_count();
    if (rows == 0 || elements % rows != 0) {
      return "output '" + binding.output + "' has " + std::to_string(elements) + " element(s) for " +
             std::to_string(rows) + " row(s)";
    }
    column c{found, elements / rows, {}};
    if (binding.index >= c.width) {
      return "output '" + binding.output + "' has " + std::to_string(c.width) + " element(s) per row; index " +
             std::to_string(binding.index) + " is outside it";
    }
    if (found->type == data_type::bytes) {
      c.strings = bytes_elements(*found);
      if (static_cast<std::int64_t>(c.strings.size()) != elements) return "output '" + binding.output + "' is not valid BYTES";
    } else if (found->type != binding.type ||
               found->data.size() < static_cast<std::size_t>(elements) * element_size(found->type)) {
      return "output '" + binding.output + "' is " + std::string(kserve_name(found->type)) + ", not the " +
             std::string(kserve_name(binding.type)) + " its config declares";
    }
    columns.push_back(std::move(c));
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    result.keys.emplace_back(*page.key(request.rows[static_cast<std::size_t>(r)]));
    for (std::size_t b = 0; b < columns.size(); ++b) {
      const auto& c = columns[b];
      const auto element = r * c.width + mapping.outputs[b].index;
      std::string value;
      if (c.t->type == data_type::bytes) {
        value = std::string(c.strings[static_cast<std::size_t>(element)]);
      } else {
        append_element(value, c.t->type,
                       c.t->data.data() + static_cast<std::size_t>(element) * element_size(c.t->type));
      }
      result.values.push_back(std::move(value));
    }
  }
  return std::nullopt;
}

}  // namespace surge::score
