#pragma once

// Tensor elements as JSON "data": shortest text that reads back as the same
// value at the tensor's own precision, written straight into the buffer.

#include <rapidjson/stringbuffer.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/data_type.hpp"
#include "core/tensor.hpp"
#include "wire/tensor_checks.hpp"

namespace surge::wire {

// Writes the elements and the closing ']' of a numeric (or BOOL) tensor's
// array whose '[' is already written.
void append_numbers_tail(rapidjson::StringBuffer& out, const tensor& t);

// A guess at the JSON text per element, so the buffer rarely grows.
std::size_t json_chars_per_element(data_type type);

// Calls visit(text, length) for each well-formed length-prefixed element of
// a BYTES buffer; stops at the first malformed one.
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

}  // namespace surge::wire
