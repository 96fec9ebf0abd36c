// Bytes a client sends as an encoded image, fed to what the image backend
// runs on them: read_header, decode (at full size and DCT-scaled, colour and
// grey) and preprocess into a small tensor, with the pixel limit low enough
// that a large declared size is refused, not allocated. The EXIF parser sees
// the raw bytes too. The first byte picks the options; the rest is the image.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_checks.hpp"
#include "image/decode.hpp"
#include "image/exif.hpp"
#include "image/preprocess.hpp"

namespace {

using surge::fuzz::check;
namespace image = surge::image;

void check_refusal(const image::image_error& refusal) {
  check(!refusal.message.empty(), "an image refusal has a message");
  check(refusal.kind != image::error_kind::invalid_options, "valid options are never refused as invalid");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t choice = data[0];
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1), size - 1);

  const int orientation = image::jpeg_exif_orientation(bytes);
  check(orientation >= 1 && orientation <= 8, "an EXIF orientation is 1..8");
  check(image::tiff_orientation(bytes) >= 1, "a TIFF orientation is 1..8");

  image::decode_options d;
  d.max_pixels = 1u << 20;
  d.channels = choice & 1 ? 1 : 3;
  d.min_width = choice & 2 ? 16 : 0;
  d.min_height = choice & 2 ? 16 : 0;
  auto header = image::read_header(bytes);
  auto decoded = image::decode(bytes, d);
  if (decoded) {
    const auto& pixels = decoded.value();
    check(header.ok(), "an image that decodes has a readable header");
    check(pixels.width > 0 && pixels.height > 0, "a decoded image has pixels");
    check(static_cast<std::uint64_t>(pixels.width) * pixels.height <= d.max_pixels, "max_pixels holds");
    check(pixels.pixels.size() == static_cast<std::size_t>(pixels.width) * pixels.height * d.channels,
          "a decoded image has width x height x channels bytes");
  } else {
    check_refusal(decoded.error());
  }

  image::preprocess_options p;
  p.width = 12;
  p.height = 10;
  p.channels = d.channels;
  p.max_pixels = d.max_pixels;
  p.resize = static_cast<image::resize_mode>((choice >> 2) % 3);
  p.type = choice & 0x20 ? image::element_type::uint8 : image::element_type::fp32;
  p.layout = choice & 0x40 ? image::tensor_layout::nhwc : image::tensor_layout::nchw;
  std::vector<std::byte> out(image::output_byte_size(p));
  if (auto failed = image::preprocess(bytes, p, out)) {
    check_refusal(*failed);
    check(!decoded || failed->kind == image::error_kind::corrupt, "preprocess refuses only what decode refuses");
  }
  return 0;
}
