#include "frontends/images/preprocess_request.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cmath>
#include <optional>

#include "core/client_text.hpp"

namespace surge::images {

namespace {

using rapidjson::Value;

std::optional<std::string> read_urls(const Value& value, const request_bounds& bounds,
                                     std::vector<std::string>& urls) {
  if (!value.IsArray()) return "urls: must be an array of strings";
  if (value.Empty()) return "urls: must hold at least one URL";
  if (value.Size() > bounds.max_urls) {
    return "urls: " + std::to_string(value.Size()) + " URLs, at most " + std::to_string(bounds.max_urls) +
           " are taken";
  }
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    const auto& url = value[i];
    if (!url.IsString() || url.GetStringLength() == 0) {
      return "urls[" + std::to_string(i) + "]: must be a non-empty string";
    }
    urls.emplace_back(url.GetString(), url.GetStringLength());
  }
  return std::nullopt;
}

std::optional<std::string> read_size(const Value& value, const request_bounds& bounds,
                                     image::preprocess_options& options) {
  const auto bad = "size: must be [height, width], two integers from 1 to " + std::to_string(bounds.max_side);
  if (!value.IsArray() || value.Size() != 2) return bad;
  for (const auto& side : value.GetArray()) {
    if (!side.IsUint() || side.GetUint() < 1 || side.GetUint() > bounds.max_side) return bad;
  }
  options.height = value[0].GetUint();
  options.width = value[1].GetUint();
  return std::nullopt;
}

std::optional<std::string> read_triple(const Value& value, const char* name, bool positive,
                                       std::array<float, 3>& out) {
  const auto bad = std::string(name) + ": must be an array of 3 " + (positive ? "positive " : "") + "numbers";
  if (!value.IsArray() || value.Size() != 3) return bad;
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    if (!value[i].IsNumber()) return bad;
    const double v = value[i].GetDouble();
    if (!std::isfinite(v) || (positive && v <= 0.0)) return bad;
    out[i] = static_cast<float>(v);
  }
  return std::nullopt;
}

// One of `names` (the first is chosen when `value` is the first, ...).
std::optional<std::string> read_choice(const Value& value, const char* field,
                                       std::initializer_list<std::string_view> names, std::size_t& chosen) {
  std::string allowed;
  for (auto name : names) allowed += (allowed.empty() ? "" : " | ") + std::string(name);
  if (value.IsString()) {
    const std::string_view text(value.GetString(), value.GetStringLength());
    std::size_t i = 0;
    for (auto name : names) {
      if (text == name) {
        chosen = i;
        return std::nullopt;
      }
      ++i;
    }
    return std::string(field) + ": \"" + client_text(text) + "\" is not one of " + allowed;
  }
  return std::string(field) + ": must be a string, one of " + allowed;
}

std::optional<std::string> read_field(std::string_view key, const Value& value, const request_bounds& bounds,
                                      preprocess_request& request) {
  auto& options = request.options;
  std::size_t chosen = 0;
  if (key == "urls") return read_urls(value, bounds, request.urls);
  if (key == "size") return read_size(value, bounds, options);
  if (key == "mean") return read_triple(value, "mean", false, options.mean);
  if (key == "std") return read_triple(value, "std", true, options.std);
  if (key == "resize") {
    if (auto e = read_choice(value, "resize", {"stretch", "letterbox", "crop"}, chosen)) return e;
    options.resize = chosen == 0   ? image::resize_mode::stretch
                     : chosen == 1 ? image::resize_mode::letterbox
                                   : image::resize_mode::center_crop;
    return std::nullopt;
  }
  if (key == "layout") {
    if (auto e = read_choice(value, "layout", {"NCHW", "NHWC"}, chosen)) return e;
    options.layout = chosen == 0 ? image::tensor_layout::nchw : image::tensor_layout::nhwc;
    return std::nullopt;
  }
  if (key == "dtype") {
    if (auto e = read_choice(value, "dtype", {"FP32", "UINT8"}, chosen)) return e;
    options.type = chosen == 0 ? image::element_type::fp32 : image::element_type::uint8;
    return std::nullopt;
  }
  if (key == "color") {
    if (auto e = read_choice(value, "color", {"RGB", "BGR"}, chosen)) return e;
    options.order = chosen == 0 ? image::color_order::rgb : image::color_order::bgr;
    return std::nullopt;
  }
  return "\"" + client_text(key) + "\": unknown field (urls, size, resize, mean, std, layout, dtype, color)";
}

}  // namespace

std::variant<preprocess_request, std::string> parse_preprocess_request(std::string_view body,
                                                                       const request_bounds& bounds) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError()) {
    return std::string("request body: not valid JSON: ") + rapidjson::GetParseError_En(document.GetParseError()) +
           " at offset " + std::to_string(document.GetErrorOffset());
  }
  if (!document.IsObject()) return std::string("request body: must be a JSON object");
  preprocess_request request;
  for (const auto& member : document.GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    if (auto failure = read_field(key, member.value, bounds, request)) return std::move(*failure);
  }
  if (request.urls.empty()) return std::string("urls: required, an array of image URLs");
  const std::uint64_t elements = std::uint64_t{request.options.width} * request.options.height * 3 *
                                 request.urls.size();
  if (elements > bounds.max_output_elements) {
    return "size: " + std::to_string(request.urls.size()) + " images of " + std::to_string(request.options.height) +
           "x" + std::to_string(request.options.width) + " exceed " + std::to_string(bounds.max_output_elements) +
           " output values in one answer";
  }
  if (auto invalid = image::validate(request.options)) return "request: " + invalid->message;
  return request;
}

}  // namespace surge::images
