#include "image/exif.hpp"

#include <cstdint>
#include <cstring>

namespace surge::image {

namespace {

std::uint8_t byte_at(std::span<const std::byte> data, std::size_t at) { return static_cast<std::uint8_t>(data[at]); }

struct tiff_reader {
  std::span<const std::byte> data;
  bool little_endian;

  bool has(std::size_t at, std::size_t length) const { return at <= data.size() && length <= data.size() - at; }
  std::uint16_t u16(std::size_t at) const {
    const std::uint16_t a = byte_at(data, at), b = byte_at(data, at + 1);
    return little_endian ? static_cast<std::uint16_t>(a | (b << 8)) : static_cast<std::uint16_t>((a << 8) | b);
  }
  std::uint32_t u32(std::size_t at) const {
    const std::uint32_t hi = u16(at), lo = u16(at + 2);
    return little_endian ? (lo << 16) | hi : (hi << 16) | lo;
  }
};

constexpr std::uint16_t orientation_tag = 0x0112;
constexpr std::uint16_t type_short = 3;

}  // namespace

int tiff_orientation(std::span<const std::byte> tiff) noexcept {
  if (tiff.size() < 8) return 1;
  const auto b0 = byte_at(tiff, 0), b1 = byte_at(tiff, 1);
  tiff_reader r{tiff, true};
  if (b0 == 'I' && b1 == 'I') {
    r.little_endian = true;
  } else if (b0 == 'M' && b1 == 'M') {
    r.little_endian = false;
  } else {
    return 1;
  }
  if (r.u16(2) != 42) return 1;
  const std::size_t ifd = r.u32(4);
  if (!r.has(ifd, 2)) return 1;
  const std::size_t entries = r.u16(ifd);
  for (std::size_t i = 0; i < entries; ++i) {
    const std::size_t entry = ifd + 2 + i * 12;
    if (!r.has(entry, 12)) return 1;
    if (r.u16(entry) != orientation_tag) continue;
    if (r.u16(entry + 2) != type_short || r.u32(entry + 4) != 1) return 1;
    const int value = r.u16(entry + 8);  // a SHORT sits left-justified in the value field
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

int jpeg_exif_orientation(std::span<const std::byte> jpeg) noexcept {
  if (jpeg.size() < 4 || byte_at(jpeg, 0) != 0xFF || byte_at(jpeg, 1) != 0xD8) return 1;
  std::size_t at = 2;
  while (at + 4 <= jpeg.size()) {
    if (byte_at(jpeg, at) != 0xFF) return 1;
    const std::uint8_t marker = byte_at(jpeg, at + 1);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    // Markers without a length; the scan (SOS) and the end (EOI) come after every APPn.
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      at += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;
    const std::size_t length = (static_cast<std::size_t>(byte_at(jpeg, at + 2)) << 8) | byte_at(jpeg, at + 3);
    if (length < 2 || at + 2 + length > jpeg.size()) return 1;
    if (marker == 0xE1 && length >= 2 + 6) {
      const auto body = jpeg.subspan(at + 4, length - 2);
      if (std::memcmp(body.data(), "Exif\0\0", 6) == 0) return tiff_orientation(body.subspan(6));
    }
    at += 2 + length;
  }
  return 1;
}

}  // namespace surge::image
