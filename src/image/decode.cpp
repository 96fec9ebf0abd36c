#include "image/decode.hpp"

#include <cstring>
#include <opencv2/core.hpp>
#include <string>
#include <utility>

#include "image/decoders.hpp"

namespace surge::image {

namespace {

// Turns decoded pixels upright as EXIF orientation `orientation` says
// (the same transforms as Pillow's ImageOps.exif_transpose).
void apply_orientation(decoded_image& image, int orientation) {
  if (orientation <= 1 || orientation > 8) return;
  const int type = CV_8UC(image.channels);
  const cv::Mat from(static_cast<int>(image.height), static_cast<int>(image.width), type, image.pixels.data());
  cv::Mat to;
  switch (orientation) {
    case 2: cv::flip(from, to, 1); break;                         // mirrored left-right
    case 3: cv::rotate(from, to, cv::ROTATE_180); break;
    case 4: cv::flip(from, to, 0); break;                         // mirrored top-bottom
    case 5: cv::transpose(from, to); break;                       // mirrored along the main diagonal
    case 6: cv::rotate(from, to, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(from, to); cv::flip(to, to, -1); break;  // along the other diagonal
    case 8: cv::rotate(from, to, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return;
  }
  image.width = static_cast<std::uint32_t>(to.cols);
  image.height = static_cast<std::uint32_t>(to.rows);
  std::vector<std::uint8_t> pixels(to.total() * to.elemSize());
  std::memcpy(pixels.data(), to.data, pixels.size());  // to is continuous: freshly allocated by OpenCV
  image.pixels = std::move(pixels);
}

}  // namespace

result<decoded_image> decode(std::span<const std::byte> data, const decode_options& options) {
  if (options.channels != 1 && options.channels != 3) {
    return image_error{error_kind::invalid_options,
                       "channels must be 1 or 3, got " + std::to_string(options.channels)};
  }
  auto header_result = read_header(data);
  if (!header_result) return std::move(header_result).error();
  const image_header header = header_result.value();
  const std::uint64_t pixels = static_cast<std::uint64_t>(header.width) * header.height;
  if (pixels > options.max_pixels) {
    return image_error{error_kind::too_large, "image too large: " + std::to_string(header.width) + "x" +
                                                  std::to_string(header.height) + " pixels (max_pixels " +
                                                  std::to_string(options.max_pixels) + ")"};
  }

  decoded_image image;
  image.format = header.format;
  image.channels = options.channels;
  image.width = header.width;
  image.height = header.height;
  const int orientation = options.apply_orientation ? header.orientation : 1;
  std::optional<image_error> failed;
  switch (header.format) {
    case image_format::jpeg: {
      // The minimum is upright; the scale applies to the stored picture.
      const bool swap = orientation >= 5;
      const auto scale = detail::pick_jpeg_scale(header.width, header.height,
                                                 swap ? options.min_height : options.min_width,
                                                 swap ? options.min_width : options.min_height);
      failed = detail::decode_jpeg(data, scale, options.channels, image.width, image.height, image.pixels);
      break;
    }
    case image_format::png:
      failed = detail::decode_png(data, options.channels, image.width, image.height, image.pixels);
      break;
    case image_format::webp:
      failed = detail::decode_webp(data, options.channels, image.width, image.height, image.pixels);
      break;
  }
  if (failed) return std::move(*failed);
  apply_orientation(image, orientation);
  return image;
}

}  // namespace surge::image
