// PNG through libpng's simplified API, which reads every colour type, bit
// depth and interlacing into 8-bit grey or RGB.
#include <png.h>

#include <cstring>

#include "image/decoders.hpp"

namespace surge::image::detail {

namespace {

struct png_reader {
  png_image image{};
  png_reader() {
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
  }
  ~png_reader() { png_image_free(&image); }
  png_reader(const png_reader&) = delete;
  png_reader& operator=(const png_reader&) = delete;

  bool begin(std::span<const std::byte> data) {
    return png_image_begin_read_from_memory(&image, data.data(), data.size()) != 0;
  }
  std::string message() const { return image.message[0] ? image.message : "libpng failed"; }
};

}  // namespace

// The IHDR chunk, read here rather than by libpng, whose header read goes on
// to the first IDAT and allocates on the way: a bomb is refused from these
// 24 bytes.
result<image_header> png_header(std::span<const std::byte> data) {
  auto byte = [&](std::size_t at) { return static_cast<std::uint32_t>(data[at]); };
  auto be32 = [&](std::size_t at) { return (byte(at) << 24) | (byte(at + 1) << 16) | (byte(at + 2) << 8) | byte(at + 3); };
  if (data.size() < 8 + 8 + 13) return corrupt(image_format::png, "shorter than its header");
  if (be32(8) != 13 || std::memcmp(data.data() + 12, "IHDR", 4) != 0) {
    return corrupt(image_format::png, "the first chunk is not a 13-byte IHDR");
  }
  image_header header;
  header.format = image_format::png;
  header.width = be32(16);
  header.height = be32(20);
  if (header.width == 0 || header.height == 0 || header.width > 0x7FFFFFFFu || header.height > 0x7FFFFFFFu) {
    return corrupt(image_format::png, "width or height out of range");
  }
  return header;
}

std::optional<image_error> decode_png(std::span<const std::byte> data, int channels, std::uint32_t& width,
                                      std::uint32_t& height, std::vector<std::uint8_t>& pixels) {
  png_reader reader;
  if (!reader.begin(data)) return corrupt(image_format::png, reader.message());
  reader.image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  width = reader.image.width;
  height = reader.image.height;
  pixels.resize(PNG_IMAGE_SIZE(reader.image));
  // Transparent pixels are composited onto black.
  const png_color black{0, 0, 0};
  if (png_image_finish_read(&reader.image, &black, pixels.data(), 0, nullptr) == 0) {
    return corrupt(image_format::png, reader.message());
  }
  return std::nullopt;
}

}  // namespace surge::image::detail
