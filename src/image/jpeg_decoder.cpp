// JPEG through libjpeg-turbo's TurboJPEG API, scaled in the DCT domain.
#include <turbojpeg.h>

#include <memory>

#include "image/decoders.hpp"

namespace surge::image::detail {

namespace {

struct handle_deleter {
  void operator()(void* handle) const noexcept { tjDestroy(handle); }
};

// One decompressor per thread: creating one allocates, and a decode thread
// decodes many images. After a failure the handle is replaced: TurboJPEG
// 2.1 can carry state from a failed decode into the next header read.
std::unique_ptr<void, handle_deleter>& thread_handle() {
  thread_local std::unique_ptr<void, handle_deleter> handle;
  return handle;
}

tjhandle decompressor() {
  auto& handle = thread_handle();
  if (!handle) handle.reset(tjInitDecompress());
  return handle.get();
}

void discard_decompressor() { thread_handle().reset(); }

const unsigned char* bytes_of(std::span<const std::byte> data) {
  return reinterpret_cast<const unsigned char*>(data.data());
}

// A truncated file stops with a warning ("Premature end of JPEG file"), which
// TJFLAG_STOPONWARNING turns into a failure instead of grey rows; a
// progressive JPEG of absurdly many scans (a CPU bomb) is refused by
// TJFLAG_LIMITSCANS.
constexpr int decode_flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;

}  // namespace

result<image_header> jpeg_header(std::span<const std::byte> data) {
  tjhandle handle = decompressor();
  if (handle == nullptr) return corrupt(image_format::jpeg, "no TurboJPEG decompressor");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle, bytes_of(data), data.size(), &width, &height, &subsampling, &colorspace) != 0) {
    auto failed = corrupt(image_format::jpeg, tjGetErrorStr2(handle));
    discard_decompressor();
    return failed;
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    return image_error{error_kind::unsupported_format, "unsupported image format: CMYK JPEG"};
  }
  if (width <= 0 || height <= 0) return corrupt(image_format::jpeg, "no width or height");
  image_header header;
  header.format = image_format::jpeg;
  header.width = static_cast<std::uint32_t>(width);
  header.height = static_cast<std::uint32_t>(height);
  return header;
}

jpeg_scale pick_jpeg_scale(std::uint32_t width, std::uint32_t height, std::uint32_t min_width,
                           std::uint32_t min_height) {
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  jpeg_scale best;
  if (factors == nullptr || (min_width == 0 && min_height == 0)) return best;
  const auto w = static_cast<int>(width), h = static_cast<int>(height);
  for (int i = 0; i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num > f.denom) continue;  // never enlarge while decoding
    if (static_cast<std::uint32_t>(TJSCALED(w, f)) < min_width) continue;
    if (static_cast<std::uint32_t>(TJSCALED(h, f)) < min_height) continue;
    if (f.num * best.denom < best.num * f.denom) best = {f.num, f.denom};
  }
  return best;
}

std::optional<image_error> decode_jpeg(std::span<const std::byte> data, jpeg_scale scale, int channels,
                                       std::uint32_t& width, std::uint32_t& height,
                                       std::vector<std::uint8_t>& pixels) {
  tjhandle handle = decompressor();
  if (handle == nullptr) return corrupt(image_format::jpeg, "no TurboJPEG decompressor");
  const tjscalingfactor factor{scale.num, scale.denom};
  const int w = TJSCALED(static_cast<int>(width), factor);
  const int h = TJSCALED(static_cast<int>(height), factor);
  pixels.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * static_cast<std::size_t>(channels));
  const int pixel_format = channels == 1 ? TJPF_GRAY : TJPF_RGB;
  if (tjDecompress2(handle, bytes_of(data), data.size(), pixels.data(), w, w * channels, h, pixel_format,
                    decode_flags) != 0) {
    std::string detail = tjGetErrorStr2(handle);
    discard_decompressor();
    if (detail.find("Unsupported color conversion") != std::string::npos) {
      return image_error{error_kind::unsupported_format, "unsupported image format: JPEG colour space (" + detail + ")"};
    }
    return corrupt(image_format::jpeg, detail);
  }
  width = static_cast<std::uint32_t>(w);
  height = static_cast<std::uint32_t>(h);
  return std::nullopt;
}

}  // namespace surge::image::detail
