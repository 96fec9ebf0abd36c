// WebP (lossy and lossless, still images) through libwebp.
#include <webp/decode.h>

#include <opencv2/imgproc.hpp>

#include "image/decoders.hpp"

namespace surge::image::detail {

namespace {

std::string status_text(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data";
    default: return "error " + std::to_string(static_cast<int>(status));
  }
}

}  // namespace

result<image_header> webp_header(std::span<const std::byte> data) {
  WebPBitstreamFeatures features;
  const auto status = WebPGetFeatures(reinterpret_cast<const std::uint8_t*>(data.data()), data.size(), &features);
  if (status != VP8_STATUS_OK) return corrupt(image_format::webp, status_text(status));
  if (features.has_animation) {
    return image_error{error_kind::unsupported_format, "unsupported image format: animated WebP"};
  }
  image_header header;
  header.format = image_format::webp;
  header.width = static_cast<std::uint32_t>(features.width);
  header.height = static_cast<std::uint32_t>(features.height);
  return header;
}

std::optional<image_error> decode_webp(std::span<const std::byte> data, int channels, std::uint32_t& width,
                                       std::uint32_t& height, std::vector<std::uint8_t>& pixels) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.data());
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(width) * height * 3);
  WebPDecoderConfig config;
  if (WebPInitDecoderConfig(&config) == 0) return corrupt(image_format::webp, "libwebp version mismatch");
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = rgb.data();
  config.output.u.RGBA.stride = static_cast<int>(width) * 3;
  config.output.u.RGBA.size = rgb.size();
  const auto status = WebPDecode(bytes, data.size(), &config);
  WebPFreeDecBuffer(&config.output);  // releases nothing of ours: the memory is external
  if (status != VP8_STATUS_OK) return corrupt(image_format::webp, status_text(status));
  if (channels == 3) {
    pixels = std::move(rgb);
    return std::nullopt;
  }
  pixels.resize(static_cast<std::size_t>(width) * height);
  const cv::Mat from(static_cast<int>(height), static_cast<int>(width), CV_8UC3, rgb.data());
  cv::Mat to(static_cast<int>(height), static_cast<int>(width), CV_8UC1, pixels.data());
  cv::cvtColor(from, to, cv::COLOR_RGB2GRAY);
  return std::nullopt;
}

}  // namespace surge::image::detail
