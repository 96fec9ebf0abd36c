#include "image/format.hpp"

#include <cstring>
#include <string>

#include "image/decoders.hpp"
#include "image/exif.hpp"

namespace surge::image {

namespace {

bool starts_with(std::span<const std::byte> data, std::size_t at, std::string_view magic) {
  return data.size() >= at + magic.size() && std::memcmp(data.data() + at, magic.data(), magic.size()) == 0;
}

image_error unsupported(std::string_view name) {
  return {error_kind::unsupported_format,
          "unsupported image format: " + std::string(name) + " (JPEG, PNG and WebP are decoded)"};
}

}  // namespace

std::string_view format_name(image_format format) noexcept {
  switch (format) {
    case image_format::jpeg: return "JPEG";
    case image_format::png: return "PNG";
    case image_format::webp: return "WebP";
  }
  return "unknown";
}

result<image_format> detect_format(std::span<const std::byte> data) {
  using namespace std::string_view_literals;
  if (starts_with(data, 0, "\xFF\xD8\xFF"sv)) return image_format::jpeg;
  if (starts_with(data, 0, "\x89PNG\r\n\x1A\n"sv)) return image_format::png;
  if (starts_with(data, 0, "RIFF"sv) && starts_with(data, 8, "WEBP"sv)) return image_format::webp;
  if (starts_with(data, 0, "GIF87a"sv) || starts_with(data, 0, "GIF89a"sv)) return unsupported("GIF");
  if (starts_with(data, 0, "BM"sv) && data.size() >= 14) return unsupported("BMP");
  if (starts_with(data, 0, "II*\0"sv) || starts_with(data, 0, "MM\0*"sv)) return unsupported("TIFF");
  if (starts_with(data, 4, "ftypavif"sv) || starts_with(data, 4, "ftypheic"sv) || starts_with(data, 4, "ftypmif1"sv))
    return unsupported("AVIF/HEIF");
  if (starts_with(data, 0, "\0\0\1\0"sv)) return unsupported("ICO");
  if (starts_with(data, 0, "\xFF\x0A"sv) || starts_with(data, 0, "\0\0\0\x0CJXL "sv)) return unsupported("JPEG XL");
  if (data.empty()) return image_error{error_kind::not_an_image, "not an image: no bytes"};
  return image_error{error_kind::not_an_image,
                     "not an image: its first bytes match no JPEG, PNG or WebP signature (" +
                         std::to_string(data.size()) + " bytes)"};
}

result<image_header> read_header(std::span<const std::byte> data) {
  auto format = detect_format(data);
  if (!format) return std::move(format).error();
  switch (format.value()) {
    case image_format::jpeg: {
      auto header = detail::jpeg_header(data);
      if (header) header.value().orientation = jpeg_exif_orientation(data);
      return header;
    }
    case image_format::png: return detail::png_header(data);
    case image_format::webp: return detail::webp_header(data);
  }
  return image_error{error_kind::not_an_image, "not an image"};
}

namespace detail {

image_error corrupt(image_format format, const std::string& detail) {
  return {error_kind::corrupt, "truncated or corrupt " + std::string(format_name(format)) + ": " + detail};
}

}  // namespace detail

}  // namespace surge::image
