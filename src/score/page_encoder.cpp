#include "score/page_encoder.hpp"

#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include "core/text_fields.hpp"

namespace surge::score {

namespace {

template <typename T>
bool write_integer(std::string_view text, std::byte* out) {
  T value{};
  if (!parse_field_number(text, value)) return false;
  std::memcpy(out, &value, sizeof value);
  return true;
}

// Writes the element to `out` (element_size bytes); false when the text is
// not a value of the type.
bool write_element(data_type type, std::string_view text, std::byte* out) {
  switch (type) {
    case data_type::bool_: {
      const auto t = trim_blanks(text);
      bool value;
      if (t == "t" || t == "true" || t == "TRUE" || t == "True" || t == "1") value = true;
      else if (t == "f" || t == "false" || t == "FALSE" || t == "False" || t == "0") value = false;
      else return false;
      std::memcpy(out, &value, 1);
      return true;
    }
    case data_type::uint8: return write_integer<std::uint8_t>(text, out);
    case data_type::uint16: return write_integer<std::uint16_t>(text, out);
    case data_type::uint32: return write_integer<std::uint32_t>(text, out);
    case data_type::uint64: return write_integer<std::uint64_t>(text, out);
    case data_type::int8: return write_integer<std::int8_t>(text, out);
    case data_type::int16: return write_integer<std::int16_t>(text, out);
    case data_type::int32: return write_integer<std::int32_t>(text, out);
    case data_type::int64: return write_integer<std::int64_t>(text, out);
    case data_type::fp32: {
      float value;
      if (!parse_field_number(text, value)) return false;
      std::memcpy(out, &value, sizeof value);
      return true;
    }
    case data_type::fp64: {
      double value;
      if (!parse_field_number(text, value)) return false;
      std::memcpy(out, &value, sizeof value);
      return true;
    }
    default:
      return false;
  }
}

std::string shown(std::string_view value) {
  constexpr std::size_t limit = 64;
  if (value.size() <= limit) return std::string(value);
  return std::string(value.substr(0, limit)) + "...";
}

// Why the row cannot be scored, or nullopt.
std::optional<std::string> check_row(const row_page& page, const column_mapping& mapping, std::size_t row,
                                     std::byte* scratch) {
  if (const auto* reason = page.unreadable(row)) return *reason;
  if (!page.key(row)) return "key column " + mapping.key + " is NULL";
  for (const auto& binding : mapping.inputs) {
    for (const auto column : binding.columns) {
      const auto value = page.cell(row, column);
      const auto& name = mapping.source_columns[column];
      if (!value) return "column " + name + " is NULL";
      if (binding.type == data_type::bytes) continue;
      if (!write_element(binding.type, *value, scratch)) {
        return "column " + name + ": '" + shown(*value) + "' is not a " + std::string(kserve_name(binding.type)) +
               " value (input " + binding.input + ")";
      }
    }
  }
  return std::nullopt;
}

tensor make_input(const row_page& page, const input_binding& binding, const std::vector<std::size_t>& rows,
                  bool batched) {
  std::vector<std::int64_t> shape;
  if (batched) shape.push_back(static_cast<std::int64_t>(rows.size()));
  shape.insert(shape.end(), binding.dims.begin(), binding.dims.end());
  const std::size_t per_row = binding.columns.size();
  std::size_t bytes = 0;
  if (binding.type == data_type::bytes) {
    for (const auto row : rows) {
      for (const auto column : binding.columns) bytes += 4 + page.cell(row, column)->size();
    }
  } else {
    bytes = rows.size() * per_row * element_size(binding.type);
  }
  auto t = make_owned_tensor(binding.input, binding.type, std::move(shape), bytes);
  std::byte* out = mutable_data(t);
  for (const auto row : rows) {
    for (const auto column : binding.columns) {
      const auto value = *page.cell(row, column);
      if (binding.type == data_type::bytes) {
        const auto length = static_cast<std::uint32_t>(value.size());
        std::memcpy(out, &length, 4);  // little-endian on every platform surge builds for
        std::memcpy(out + 4, value.data(), value.size());
        out += 4 + value.size();
      } else {
        write_element(binding.type, value, out);
        out += element_size(binding.type);
      }
    }
  }
  return t;
}

}  // namespace

std::string describe_row(const row_page& page, const column_mapping& mapping, std::size_t row) {
  std::string text;
  for (std::size_t c = 0; c < mapping.source_columns.size(); ++c) {
    if (!text.empty()) text += ", ";
    const auto value = page.cell(row, c);
    text += mapping.source_columns[c] + "=" + (value ? shown(*value) : std::string("NULL"));
  }
  return text;
}

encoded_page encode_page(const row_page& page, const column_mapping& mapping) {
  encoded_page encoded;
  std::vector<std::size_t> good;
  good.reserve(page.rows());
  alignas(8) std::byte scratch[8];
  for (std::size_t row = 0; row < page.rows(); ++row) {
    if (auto reason = check_row(page, mapping, row, scratch)) {
      const auto key = page.key(row);
      encoded.rejects.push_back({key ? std::string(*key) : std::string(), std::move(*reason),
                                 describe_row(page, mapping, row)});
    } else {
      good.push_back(row);
    }
  }
  const std::size_t per_request =
      mapping.batched ? static_cast<std::size_t>(std::max<std::int64_t>(1, mapping.max_batch_size)) : 1;
  for (std::size_t begin = 0; begin < good.size(); begin += per_request) {
    request_rows request;
    request.rows.assign(good.begin() + static_cast<std::ptrdiff_t>(begin),
                        good.begin() + static_cast<std::ptrdiff_t>(std::min(good.size(), begin + per_request)));
    for (const auto& binding : mapping.inputs) {
      request.inputs.push_back(make_input(page, binding, request.rows, mapping.batched));
    }
    encoded.requests.push_back(std::move(request));
  }
  return encoded;
}

}  // namespace surge::score
