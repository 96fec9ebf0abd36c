#include "wire/tensor_checks.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/client_text.hpp"

namespace surge::wire {

// Length prefixes are little-endian on the wire and copied with memcpy.
static_assert(std::endian::native == std::endian::little, "surge assumes a little-endian host");

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) text += ',';
    text += std::to_string(shape[i]);
  }
  text += ']';
  return text;
}

std::string quoted_label(std::string_view kind, std::string_view name) {
  const auto quoted = client_text(name);
  std::string label;
  label.reserve(kind.size() + quoted.size() + 3);
  label.append(kind).append(" '").append(quoted).append("'");
  return label;
}

std::variant<std::size_t, error> checked_element_count(std::string_view label, const std::vector<std::int64_t>& shape,
                                                       data_type type) {
  const auto invalid = [&](std::string_view problem) {
    return make_error(error_code::invalid_argument,
                      std::string(label) + ": shape " + shape_text(shape) + " " + std::string(problem));
  };
  for (const auto dim : shape) {
    if (dim < 0) return invalid("has a negative dimension");
  }
  std::int64_t count = 1;
  for (const auto dim : shape) {
    if (__builtin_mul_overflow(count, dim, &count)) return invalid("has too many elements");
  }
  const std::size_t size_of_element = std::max<std::size_t>(element_size(type), 1);
  if (static_cast<std::uint64_t>(count) > std::numeric_limits<std::size_t>::max() / size_of_element) {
    return invalid("has too many elements");
  }
  return static_cast<std::size_t>(count);
}

void store_length_prefix(std::byte* out, std::uint32_t length) { std::memcpy(out, &length, sizeof length); }

std::uint32_t load_length_prefix(const std::byte* in) {
  std::uint32_t length = 0;
  std::memcpy(&length, in, sizeof length);
  return length;
}

std::string bytes_elements_problem(std::span<const std::byte> data, std::size_t count, std::string_view size_field,
                                   std::string_view data_name) {
  std::size_t position = 0;
  std::size_t elements = 0;
  while (position < data.size()) {
    if (data.size() - position < sizeof(std::uint32_t)) {
      return "BYTES element " + std::to_string(elements) +
             " has a cut-off length prefix: " + std::to_string(data.size() - position) + " of 4 bytes";
    }
    const std::uint32_t length = load_length_prefix(data.data() + position);
    position += sizeof length;
    if (length > data.size() - position) {
      return "BYTES element " + std::to_string(elements) + " has length " + std::to_string(length) + " but only " +
             std::to_string(data.size() - position) + " bytes of " + std::string(size_field) + " remain";
    }
    position += length;
    ++elements;
  }
  if (elements != count) {
    return std::string(data_name) + " holds " + std::to_string(elements) + " elements, the shape needs " +
           std::to_string(count);
  }
  return {};
}

}  // namespace surge::wire
