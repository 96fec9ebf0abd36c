#include "image/preprocess_parameters.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace surge::image {

namespace {

std::string quoted(std::string_view value) {
  constexpr std::size_t keep = 64;
  if (value.size() <= keep) return "'" + std::string(value) + "'";
  return "'" + std::string(value.substr(0, keep)) + "...' (" + std::to_string(value.size()) + " bytes)";
}

std::string must_be(std::string_view key, std::string_view expected, std::string_view value) {
  return "parameter '" + std::string(key) + "' must be " + std::string(expected) + ", got " + quoted(value);
}

std::optional<std::uint64_t> unsigned_value(std::string_view text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

std::optional<float> float_value(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  const std::string copy(text);
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || errno == ERANGE || !std::isfinite(value)) return std::nullopt;
  return static_cast<float>(value);
}

// "0.5" or "0.485,0.456,0.406": one value for every channel, or three.
std::optional<std::array<float, 3>> channel_values(std::string_view text) {
  std::vector<float> values;
  std::size_t at = 0;
  while (true) {
    const auto comma = text.find(',', at);
    const auto part = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    auto value = float_value(part);
    if (!value) return std::nullopt;
    values.push_back(*value);
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  if (values.size() == 1) return std::array<float, 3>{values[0], values[0], values[0]};
  if (values.size() == 3) return std::array<float, 3>{values[0], values[1], values[2]};
  return std::nullopt;
}

}  // namespace

std::optional<std::string> set_parameter(preprocess_options& o, std::string_view key, std::string_view value) {
  if (key == "width" || key == "height" || key == "shorter_side" || key == "max_pixels") {
    auto number = unsigned_value(value);
    const bool zero_ok = key == "shorter_side";
    if (!number || (*number == 0 && !zero_ok) || (key != "max_pixels" && *number > 16384)) {
      return must_be(key, key == "max_pixels" ? "a positive integer" : zero_ok ? "an integer 0..16384" : "an integer 1..16384",
                     value);
    }
    if (key == "width") o.width = static_cast<std::uint32_t>(*number);
    if (key == "height") o.height = static_cast<std::uint32_t>(*number);
    if (key == "shorter_side") o.shorter_side = static_cast<std::uint32_t>(*number);
    if (key == "max_pixels") o.max_pixels = *number;
    return std::nullopt;
  }
  if (key == "channels") {
    if (value == "1") o.channels = 1;
    else if (value == "3") o.channels = 3;
    else return must_be(key, "1 or 3", value);
    return std::nullopt;
  }
  if (key == "data_type") {
    if (value == "FP32" || value == "TYPE_FP32") o.type = element_type::fp32;
    else if (value == "UINT8" || value == "TYPE_UINT8") o.type = element_type::uint8;
    else return must_be(key, "FP32 or UINT8", value);
    return std::nullopt;
  }
  if (key == "resize_mode") {
    if (value == "stretch") o.resize = resize_mode::stretch;
    else if (value == "letterbox") o.resize = resize_mode::letterbox;
    else if (value == "center_crop") o.resize = resize_mode::center_crop;
    else return must_be(key, "stretch, letterbox or center_crop", value);
    return std::nullopt;
  }
  if (key == "interpolation") {
    if (value == "auto") o.interp = interpolation::automatic;
    else if (value == "linear") o.interp = interpolation::linear;
    else if (value == "area") o.interp = interpolation::area;
    else if (value == "nearest") o.interp = interpolation::nearest;
    else if (value == "cubic") o.interp = interpolation::cubic;
    else return must_be(key, "auto, linear, area, nearest or cubic", value);
    return std::nullopt;
  }
  if (key == "pad_value") {
    auto number = unsigned_value(value);
    if (!number || *number > 255) return must_be(key, "an integer 0..255", value);
    o.pad_value = static_cast<std::uint8_t>(*number);
    return std::nullopt;
  }
  if (key == "scale") {
    auto number = float_value(value);
    if (!number || *number == 0.0f) return must_be(key, "a finite non-zero number", value);
    o.scale = *number;
    return std::nullopt;
  }
  if (key == "mean" || key == "std") {
    auto values = channel_values(value);
    if (!values) return must_be(key, "one number or three separated by commas", value);
    if (key == "std") {
      for (float v : *values) {
        if (v == 0.0f) return must_be(key, "non-zero", value);
      }
      o.std = *values;
    } else {
      o.mean = *values;
    }
    return std::nullopt;
  }
  if (key == "layout") {
    if (value == "NCHW" || value == "CHW") o.layout = tensor_layout::nchw;
    else if (value == "NHWC" || value == "HWC") o.layout = tensor_layout::nhwc;
    else return must_be(key, "NCHW or NHWC", value);
    return std::nullopt;
  }
  if (key == "color_order") {
    if (value == "RGB") o.order = color_order::rgb;
    else if (value == "BGR") o.order = color_order::bgr;
    else return must_be(key, "RGB or BGR", value);
    return std::nullopt;
  }
  if (key == "apply_orientation") {
    if (value == "true") o.apply_orientation = true;
    else if (value == "false") o.apply_orientation = false;
    else return must_be(key, "true or false", value);
    return std::nullopt;
  }
  std::string known;
  for (auto name : preprocess_parameter_names) known += (known.empty() ? "" : ", ") + std::string(name);
  return "unknown parameter " + quoted(key) + " (known: " + known + ")";
}

}  // namespace surge::image
