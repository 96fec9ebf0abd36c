#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "image/image_error.hpp"

namespace surge::image {

enum class image_format { jpeg, png, webp };

std::string_view format_name(image_format format) noexcept;

// What an image's header says, read without decoding any pixel.
struct image_header {
  image_format format{image_format::jpeg};
  std::uint32_t width{0};   // as stored, before EXIF orientation
  std::uint32_t height{0};
  int orientation{1};       // EXIF orientation 1..8 (JPEG only; 1 elsewhere)
  // Whether the pixels will come out upright only after swapping width and height (orientations 5..8).
  bool transposed() const noexcept { return orientation >= 5; }
};

// The format from the first bytes: JPEG, PNG and WebP are decodable; GIF,
// BMP, TIFF, AVIF/HEIF and a few others are recognised and refused as
// unsupported; anything else is not an image.
result<image_format> detect_format(std::span<const std::byte> data);

// Format, declared dimensions and orientation. Fails like decode() would
// on a header it cannot read.
result<image_header> read_header(std::span<const std::byte> data);

}  // namespace surge::image
