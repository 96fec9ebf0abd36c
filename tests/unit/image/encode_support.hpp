#pragma once

// Encoders for the image tests: pictures made here, so every test states
// the pixels it expects.
#include <png.h>
#include <turbojpeg.h>
#include <webp/encode.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace surge::image::testing {

struct picture {
  int width;
  int height;
  int channels;                 // 1 or 3 (RGB)
  std::vector<std::uint8_t> pixels;
  std::uint8_t at(int x, int y, int c) const { return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c]; }
};

// A picture whose every pixel differs: x and y gradients and a checker.
inline picture gradient(int width, int height, int channels) {
  picture p{width, height, channels, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * channels)};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < channels; ++c) {
        const int value = c == 0 ? x * 255 / std::max(1, width - 1) : c == 1 ? y * 255 / std::max(1, height - 1)
                                                                           : ((x / 4 + y / 4) % 2) * 200 + 20;
        p.pixels[(static_cast<std::size_t>(y) * width + x) * channels + c] = static_cast<std::uint8_t>(value);
      }
    }
  }
  return p;
}

inline picture uniform(int width, int height, int channels, std::uint8_t value) {
  return {width, height, channels, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * channels, value)};
}

inline std::string jpeg(const picture& p, int quality = 95) {
  tjhandle handle = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int format = p.channels == 1 ? TJPF_GRAY : TJPF_RGB;
  const int subsampling = p.channels == 1 ? TJSAMP_GRAY : TJSAMP_444;
  tjCompress2(handle, p.pixels.data(), p.width, 0, p.height, format, &out, &size, subsampling, quality, 0);
  std::string encoded(reinterpret_cast<const char*>(out), size);
  tjFree(out);
  tjDestroy(handle);
  return encoded;
}

// An APP1 EXIF segment whose IFD0 holds one orientation entry.
inline std::string exif_segment(int orientation, bool little_endian = true) {
  auto u16 = [&](std::string& s, unsigned v) {
    if (little_endian) {
      s += static_cast<char>(v & 0xFF);
      s += static_cast<char>(v >> 8);
    } else {
      s += static_cast<char>(v >> 8);
      s += static_cast<char>(v & 0xFF);
    }
  };
  auto u32 = [&](std::string& s, unsigned v) {
    if (little_endian) {
      u16(s, v & 0xFFFF);
      u16(s, v >> 16);
    } else {
      u16(s, v >> 16);
      u16(s, v & 0xFFFF);
    }
  };
  std::string tiff = little_endian ? "II" : "MM";
  u16(tiff, 42);
  u32(tiff, 8);
  u16(tiff, 1);       // one entry
  u16(tiff, 0x0112);  // orientation
  u16(tiff, 3);       // SHORT
  u32(tiff, 1);
  u16(tiff, static_cast<unsigned>(orientation));
  u16(tiff, 0);
  u32(tiff, 0);  // no next IFD
  std::string body = std::string("Exif\0\0", 6) + tiff;
  const auto length = body.size() + 2;
  return std::string("\xFF\xE1", 2) + static_cast<char>(length >> 8) + static_cast<char>(length & 0xFF) + body;
}

// `encoded` (a JPEG) with an EXIF orientation segment after its SOI marker.
inline std::string with_orientation(const std::string& encoded, int orientation, bool little_endian = true) {
  return encoded.substr(0, 2) + exif_segment(orientation, little_endian) + encoded.substr(2);
}

inline std::string png(const picture& p) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(p.width);
  image.height = static_cast<png_uint_32>(p.height);
  image.format = p.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, p.pixels.data(), 0, nullptr);
  std::string encoded(size, '\0');
  png_image_write_to_memory(&image, encoded.data(), &size, 0, p.pixels.data(), 0, nullptr);
  encoded.resize(size);
  return encoded;
}

// Lossless, so the decoded pixels are the picture's.
inline std::string webp(const picture& p) {
  std::vector<std::uint8_t> rgb;
  if (p.channels == 1) {
    for (auto v : p.pixels) rgb.insert(rgb.end(), {v, v, v});
  } else {
    rgb = p.pixels;
  }
  std::uint8_t* out = nullptr;
  const std::size_t size = WebPEncodeLosslessRGB(rgb.data(), p.width, p.height, p.width * 3, &out);
  std::string encoded(reinterpret_cast<const char*>(out), size);
  WebPFree(out);
  return encoded;
}

// A PNG signature and IHDR declaring width x height, and nothing else: a
// decompression bomb's header.
inline std::string png_header_only(std::uint32_t width, std::uint32_t height) {
  auto be32 = [](std::string& s, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xFF);
  };
  std::string chunk = "IHDR";
  be32(chunk, width);
  be32(chunk, height);
  chunk += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  std::string out = "\x89PNG\r\n\x1A\n";
  be32(out, 13);
  out += chunk;
  std::uint32_t crc = 0xFFFFFFFFu;  // PNG's CRC-32, bit by bit
  for (unsigned char byte : chunk) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  be32(out, crc ^ 0xFFFFFFFFu);
  return out;
}

inline std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace surge::image::testing
