// BYTES tensors (each element: a uint32 little-endian length, then its bytes)
// to and from one string per element, for backends whose framework keeps
// strings (ONNX Runtime's string tensors).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace surge::bytes_tensor {

// Whether `text` is well-formed UTF-8: no overlong forms, no surrogates,
// nothing above U+10FFFF.
inline bool is_utf8(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (i + length > n) return false;
    if (s[i + 1] < low || s[i + 1] > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

// The elements of a BYTES buffer, viewing `data`. Returns nullopt when the
// buffer does not hold exactly `count` elements.
inline std::optional<std::vector<std::string_view>> split(std::span<const std::byte> data, std::size_t count) {
  std::vector<std::string_view> out;
  out.reserve(count);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (data.size() - offset < 4) return std::nullopt;
    std::uint32_t length = 0;
    std::memcpy(&length, data.data() + offset, 4);  // little-endian hosts, as the ABI states
    offset += 4;
    if (data.size() - offset < length) return std::nullopt;
    out.emplace_back(reinterpret_cast<const char*>(data.data() + offset), length);
    offset += length;
  }
  if (offset != data.size()) return std::nullopt;
  return out;
}

// Bytes the BYTES encoding of elements of these lengths takes.
inline std::size_t encoded_size(std::span<const std::size_t> lengths) noexcept {
  std::size_t total = 0;
  for (auto length : lengths) total += 4 + length;
  return total;
}

// Appends one element in BYTES encoding.
inline void append(std::vector<std::byte>& out, std::string_view element) {
  const auto length = static_cast<std::uint32_t>(element.size());
  const auto at = out.size();
  out.resize(at + 4 + element.size());
  std::memcpy(out.data() + at, &length, 4);
  if (!element.empty()) std::memcpy(out.data() + at + 4, element.data(), element.size());
}

}  // namespace surge::bytes_tensor
