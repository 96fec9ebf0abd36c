#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "image/preprocess.hpp"

namespace surge::image {

// The text names of preprocess_options' fields, shared by every caller that
// takes them as strings (a model config's parameters, a request's):
//   width, height         positive integers
//   channels              1 or 3
//   data_type             FP32 or UINT8 (TYPE_FP32 / TYPE_UINT8 also read)
//   resize_mode           stretch | letterbox | center_crop
//   interpolation         auto | linear | area | nearest | cubic
//   shorter_side          integer, center_crop only
//   pad_value             0..255
//   scale                 number (FP32 only)
//   mean, std             one number, or one per channel, separated by commas
//   layout                NCHW | NHWC
//   color_order           RGB | BGR
//   max_pixels            positive integer
//   apply_orientation     true | false
inline constexpr std::array<std::string_view, 15> preprocess_parameter_names = {
    "width",    "height", "channels", "data_type", "resize_mode", "interpolation", "shorter_side",
    "pad_value", "scale", "mean",     "std",       "layout",      "color_order",   "max_pixels",
    "apply_orientation"};

// Sets the field called `key` from `value`. Returns a message naming the
// key and what it takes when the key is unknown or the value malformed.
std::optional<std::string> set_parameter(preprocess_options& options, std::string_view key, std::string_view value);

}  // namespace surge::image
