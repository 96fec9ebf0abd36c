#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "image/format.hpp"
#include "image/image_error.hpp"

namespace surge::image {

inline constexpr std::uint64_t default_max_pixels = 40'000'000;

struct decode_options {
  // Width x height the header may declare; more is refused before any pixel
  // buffer is allocated (a decompression bomb costs a header read).
  std::uint64_t max_pixels{default_max_pixels};
  int channels{3};  // 3: RGB (grey images expanded), 1: grey (colour images converted to luma)
  bool apply_orientation{true};  // turn a JPEG upright as its EXIF orientation says
  // The smallest upright size the caller needs, 0 for full size. A JPEG is
  // then decoded at the smallest DCT scale (1/8, 1/4, 3/8, 1/2, ... 1) whose
  // result is still at least this large in both dimensions, which skips
  // most of the work when the target is much smaller than the picture.
  std::uint32_t min_width{0};
  std::uint32_t min_height{0};
};

// Interleaved 8-bit pixels, rows top to bottom, no padding: RGB or grey.
struct decoded_image {
  std::uint32_t width{0};
  std::uint32_t height{0};
  int channels{0};
  image_format format{image_format::jpeg};
  std::vector<std::uint8_t> pixels;  // height * width * channels bytes
};

// Decodes a JPEG, PNG or WebP held in `data` (borrowed for the call).
result<decoded_image> decode(std::span<const std::byte> data, const decode_options& options = {});

}  // namespace surge::image
