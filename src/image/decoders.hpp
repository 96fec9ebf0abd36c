// The per-format decoders behind decode() and read_header(); not part of the
// library's interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "image/format.hpp"
#include "image/image_error.hpp"

namespace surge::image::detail {

result<image_header> jpeg_header(std::span<const std::byte> data);
result<image_header> png_header(std::span<const std::byte> data);
result<image_header> webp_header(std::span<const std::byte> data);

// A DCT scaling factor num/denom for a JPEG decode (1/1: full size).
struct jpeg_scale {
  int num{1};
  int denom{1};
};
// The smallest scale at most 1 whose result is at least min_width x min_height
// (both as stored, before orientation); 1/1 when none is smaller.
jpeg_scale pick_jpeg_scale(std::uint32_t width, std::uint32_t height, std::uint32_t min_width,
                           std::uint32_t min_height);

// Each writes width * height * channels bytes (channels 1 or 3, RGB order)
// into `pixels` and sets width and height to what was decoded.
std::optional<image_error> decode_jpeg(std::span<const std::byte> data, jpeg_scale scale, int channels,
                                       std::uint32_t& width, std::uint32_t& height, std::vector<std::uint8_t>& pixels);
std::optional<image_error> decode_png(std::span<const std::byte> data, int channels, std::uint32_t& width,
                                      std::uint32_t& height, std::vector<std::uint8_t>& pixels);
std::optional<image_error> decode_webp(std::span<const std::byte> data, int channels, std::uint32_t& width,
                                       std::uint32_t& height, std::vector<std::uint8_t>& pixels);

image_error corrupt(image_format format, const std::string& detail);

}  // namespace surge::image::detail
