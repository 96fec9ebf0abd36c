#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace surge::testing {

// BYTES elements as the wire carries them: a 4-byte little-endian length,
// then the bytes.
inline std::string framed(const std::vector<std::string>& elements) {
  std::string out;
  for (const auto& element : elements) {
    const auto length = static_cast<std::uint32_t>(element.size());
    out.append(reinterpret_cast<const char*>(&length), sizeof length);
    out += element;
  }
  return out;
}

}  // namespace surge::testing
