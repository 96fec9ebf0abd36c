#pragma once

// Checks every frontend applies to an input tensor before it reaches the
// core, whatever protocol carried it: the shape gives a countable number of
// elements, and BYTES data is a well-formed run of length-prefixed elements.
// Messages name the tensor and what was wrong, in the same words for HTTP and
// gRPC clients.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/data_type.hpp"
#include "core/status.hpp"

namespace surge::wire {

// "[2,3]"
std::string shape_text(const std::vector<std::int64_t>& shape);

// "input 'x'": how messages name a tensor.
std::string quoted_label(std::string_view kind, std::string_view name);

// The number of elements of `shape`, or invalid_argument ("<label>: shape
// [..] has a negative dimension" / "has too many elements") when a dimension
// is negative or the byte size of a `type` tensor of that shape would
// overflow size_t.
std::variant<std::size_t, error> checked_element_count(std::string_view label, const std::vector<std::int64_t>& shape,
                                                       data_type type);

// Empty when `data` holds exactly `count` BYTES elements, each a 4-byte
// little-endian length followed by that many bytes; else what is wrong, in
// the words of the protocol: `size_field` names what gave the byte count
// ("binary_data_size"), `data_name` the bytes ("binary BYTES data").
std::string bytes_elements_problem(std::span<const std::byte> data, std::size_t count, std::string_view size_field,
                                   std::string_view data_name);

// The 4-byte little-endian length in front of each BYTES element.
void store_length_prefix(std::byte* out, std::uint32_t length);
std::uint32_t load_length_prefix(const std::byte* in);

}  // namespace surge::wire
