#include "core/client_text.hpp"

#include <algorithm>

namespace surge {

std::size_t utf8_sequence_length(std::string_view text) {
  if (text.empty()) return 0;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;  // the range of the second byte (RFC 3629, table 3-7 of Unicode)
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;   // overlong
    if (lead == 0xed) high = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;   // overlong
    if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

std::string client_text(std::string_view text, std::size_t max_bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 32);
  std::size_t taken = 0;  // bytes of `text` represented so far
  while (taken < text.size()) {
    const auto length = utf8_sequence_length(text.substr(taken));
    // An escaped byte costs four bytes of the budget: the limit is on the answer.
    const std::size_t cost = length == 0 ? 4 : length;
    if (out.size() + cost > max_bytes) break;
    if (length == 0) {
      const auto b = static_cast<unsigned char>(text[taken]);
      out += "\\x";
      out += hex[b >> 4];
      out += hex[b & 0xf];
      taken += 1;
    } else {
      out.append(text.substr(taken, length));
      taken += length;
    }
  }
  if (taken < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

}  // namespace surge
