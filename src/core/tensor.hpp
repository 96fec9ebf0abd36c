#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/data_type.hpp"

namespace surge {

// A named tensor whose bytes live in `owner` (a request body, an output
// buffer). BYTES elements are stored as Triton stores them: a 4-byte
// little-endian length followed by the bytes, one after the other.
struct tensor {
  std::string name;
  data_type type{data_type::invalid};
  std::vector<std::int64_t> shape;
  std::span<const std::byte> data;
  std::shared_ptr<const void> owner;

  std::int64_t element_count() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

// A tensor that owns a fresh buffer; used for outputs.
inline tensor make_owned_tensor(std::string name, data_type type, std::vector<std::int64_t> shape,
                                std::size_t byte_size) {
  auto buffer = std::shared_ptr<std::byte[]>(new std::byte[byte_size == 0 ? 1 : byte_size]);
  tensor t;
  t.name = std::move(name);
  t.type = type;
  t.shape = std::move(shape);
  t.data = std::span<const std::byte>(buffer.get(), byte_size);
  t.owner = std::shared_ptr<const void>(buffer, buffer.get());
  return t;
}

inline std::byte* mutable_data(const tensor& t) { return const_cast<std::byte*>(t.data.data()); }

}  // namespace surge
