#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "image/decode.hpp"
#include "image/image_error.hpp"

namespace surge::image {

enum class resize_mode {
  stretch,      // to width x height, aspect ratio not kept
  letterbox,    // fit inside width x height keeping the aspect ratio, centred, the rest pad_value
  center_crop,  // scale so the picture covers width x height (or its shorter side is shorter_side), then crop the centre
};
enum class interpolation {
  automatic,  // area when shrinking, linear when enlarging
  linear,     // cv::INTER_LINEAR
  area,       // cv::INTER_AREA
  nearest,    // cv::INTER_NEAREST
  cubic,      // cv::INTER_CUBIC
};
enum class tensor_layout { nchw, nhwc };  // without the batch dimension: CHW or HWC
enum class color_order { rgb, bgr };
enum class element_type { fp32, uint8 };

// What preprocess() makes of an encoded image.
struct preprocess_options {
  std::uint32_t width{224};   // output width, pixels
  std::uint32_t height{224};  // output height, pixels
  int channels{3};            // 3: colour (grey images expanded), 1: grey
  resize_mode resize{resize_mode::stretch};
  interpolation interp{interpolation::automatic};
  std::uint32_t shorter_side{0};  // center_crop: scale the shorter side to this first; 0: just cover the output
  std::uint8_t pad_value{0};      // letterbox: the border's pixel value (0..255), normalised like any pixel
  // FP32: value = (pixel * scale - mean[c]) / std[c], c in output colour order.
  float scale{1.0f / 255.0f};
  std::array<float, 3> mean{0.0f, 0.0f, 0.0f};
  std::array<float, 3> std{1.0f, 1.0f, 1.0f};
  tensor_layout layout{tensor_layout::nchw};
  color_order order{color_order::rgb};
  element_type type{element_type::fp32};  // UINT8: the pixels themselves, no normalisation
  std::uint64_t max_pixels{default_max_pixels};  // see decode_options
  bool apply_orientation{true};
};

// A message naming the first inconsistent field, or nothing.
std::optional<image_error> validate(const preprocess_options& options);

// Bytes one preprocessed image takes: width * height * channels elements.
std::size_t output_byte_size(const preprocess_options& options);

// Decodes `data`, resizes and normalises it into `out` (output_byte_size
// bytes, any alignment), all in the caller's thread. `out` is left
// unspecified on failure.
std::optional<image_error> preprocess(std::span<const std::byte> data, const preprocess_options& options,
                                      std::span<std::byte> out);

// The same from pixels decode() already produced (any size, 1 or 3 channels).
std::optional<image_error> preprocess_decoded(const decoded_image& image, const preprocess_options& options,
                                              std::span<std::byte> out);

}  // namespace surge::image
