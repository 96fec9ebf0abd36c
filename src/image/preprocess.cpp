#include "image/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <tuple>

namespace surge::image {

namespace {

image_error invalid(std::string message) { return {error_kind::invalid_options, std::move(message)}; }

int cv_interpolation(interpolation interp, cv::Size from, cv::Size to) {
  switch (interp) {
    case interpolation::linear: return cv::INTER_LINEAR;
    case interpolation::area: return cv::INTER_AREA;
    case interpolation::nearest: return cv::INTER_NEAREST;
    case interpolation::cubic: return cv::INTER_CUBIC;
    case interpolation::automatic: break;
  }
  return to.width <= from.width && to.height <= from.height ? cv::INTER_AREA : cv::INTER_LINEAR;
}

cv::Mat resized(const cv::Mat& from, cv::Size to, interpolation interp) {
  if (from.size() == to) return from;
  cv::Mat out;
  cv::resize(from, out, to, 0, 0, cv_interpolation(interp, from.size(), to));
  return out;
}

// The factor center_crop scales a w x h picture by.
double cover_scale(double w, double h, const preprocess_options& o) {
  double s = std::max(o.width / w, o.height / h);
  if (o.shorter_side > 0) s = std::max(s, o.shorter_side / std::min(w, h));
  return s;
}

int scaled(double length, double s) { return std::max(1, static_cast<int>(std::lround(length * s))); }

// width x height x channels, 8-bit, continuous.
cv::Mat fitted(const cv::Mat& from, const preprocess_options& o) {
  const cv::Size target(static_cast<int>(o.width), static_cast<int>(o.height));
  const double w = from.cols, h = from.rows;
  switch (o.resize) {
    case resize_mode::stretch: return resized(from, target, o.interp);
    case resize_mode::letterbox: {
      const double s = std::min(o.width / w, o.height / h);
      const cv::Size inner(std::min(scaled(w, s), target.width), std::min(scaled(h, s), target.height));
      cv::Mat canvas(target, from.type(), cv::Scalar::all(o.pad_value));
      const cv::Rect at((target.width - inner.width) / 2, (target.height - inner.height) / 2, inner.width,
                        inner.height);
      resized(from, inner, o.interp).copyTo(canvas(at));
      return canvas;
    }
    case resize_mode::center_crop: {
      const double s = cover_scale(w, h, o);
      const cv::Size outer(std::max(scaled(w, s), target.width), std::max(scaled(h, s), target.height));
      const cv::Mat big = resized(from, outer, o.interp);
      const cv::Rect at((outer.width - target.width) / 2, (outer.height - target.height) / 2, target.width,
                        target.height);
      return big(at).clone();
    }
  }
  return from;
}

// The smallest decoded size the resize needs from a picture whose upright
// size is w x h; a JPEG is decoded no smaller than this.
std::pair<std::uint32_t, std::uint32_t> needed_size(double w, double h, const preprocess_options& o) {
  double s = 1.0;
  switch (o.resize) {
    case resize_mode::stretch: return {o.width, o.height};
    case resize_mode::letterbox: s = std::min(o.width / w, o.height / h); break;
    case resize_mode::center_crop: s = cover_scale(w, h, o); break;
  }
  // More than the picture itself means a full-size decode; capping there
  // keeps a far-from-square header's scaled side inside uint32_t.
  return {static_cast<std::uint32_t>(std::min(std::ceil(w * s), w)),
          static_cast<std::uint32_t>(std::min(std::ceil(h * s), h))};
}

void write_fp32(const cv::Mat& pixels, const preprocess_options& o, std::span<std::byte> out) {
  const int channels = o.channels;
  const std::size_t plane = static_cast<std::size_t>(o.width) * o.height;
  // value = pixel * a[c] + b[c], c in output order.
  std::array<float, 3> a{}, b{};
  for (int c = 0; c < channels; ++c) {
    a[c] = o.scale / o.std[c];
    b[c] = -o.mean[c] / o.std[c];
  }
  std::byte* base = out.data();
  for (int y = 0; y < pixels.rows; ++y) {
    const std::uint8_t* row = pixels.ptr<std::uint8_t>(y);
    for (int x = 0; x < pixels.cols; ++x) {
      const std::size_t index = static_cast<std::size_t>(y) * o.width + static_cast<std::size_t>(x);
      for (int c = 0; c < channels; ++c) {
        // Decoders give RGB; BGR output reads the channels the other way round.
        const int source = o.order == color_order::bgr && channels == 3 ? 2 - c : c;
        const float value = static_cast<float>(row[x * channels + source]) * a[c] + b[c];
        const std::size_t at = o.layout == tensor_layout::nchw ? c * plane + index : index * channels + c;
        std::memcpy(base + at * sizeof(float), &value, sizeof(float));
      }
    }
  }
}

void write_uint8(const cv::Mat& pixels, const preprocess_options& o, std::span<std::byte> out) {
  const int channels = o.channels;
  const std::size_t plane = static_cast<std::size_t>(o.width) * o.height;
  auto* base = reinterpret_cast<std::uint8_t*>(out.data());
  for (int y = 0; y < pixels.rows; ++y) {
    const std::uint8_t* row = pixels.ptr<std::uint8_t>(y);
    for (int x = 0; x < pixels.cols; ++x) {
      const std::size_t index = static_cast<std::size_t>(y) * o.width + static_cast<std::size_t>(x);
      for (int c = 0; c < channels; ++c) {
        const int source = o.order == color_order::bgr && channels == 3 ? 2 - c : c;
        const std::size_t at = o.layout == tensor_layout::nchw ? c * plane + index : index * channels + c;
        base[at] = row[x * channels + source];
      }
    }
  }
}

}  // namespace

std::optional<image_error> validate(const preprocess_options& o) {
  if (o.width == 0 || o.height == 0 || o.width > 16384 || o.height > 16384) {
    return invalid("output width and height must be 1..16384, got " + std::to_string(o.width) + "x" +
                   std::to_string(o.height));
  }
  if (o.channels != 1 && o.channels != 3) return invalid("channels must be 1 or 3, got " + std::to_string(o.channels));
  if (o.max_pixels == 0) return invalid("max_pixels must be positive");
  if (o.type == element_type::fp32) {
    if (!std::isfinite(o.scale) || o.scale == 0.0f) return invalid("scale must be a finite non-zero number");
    for (int c = 0; c < o.channels; ++c) {
      if (!std::isfinite(o.std[c]) || o.std[c] == 0.0f) return invalid("std must be finite and non-zero");
      if (!std::isfinite(o.mean[c])) return invalid("mean must be finite");
    }
  }
  if (o.shorter_side > 16384) return invalid("shorter_side must be at most 16384");
  if (o.shorter_side > 0 && o.resize != resize_mode::center_crop) {
    return invalid("shorter_side applies to resize mode center_crop only");
  }
  return std::nullopt;
}

std::size_t output_byte_size(const preprocess_options& o) {
  const std::size_t element = o.type == element_type::fp32 ? sizeof(float) : 1;
  return static_cast<std::size_t>(o.width) * o.height * static_cast<std::size_t>(o.channels) * element;
}

std::optional<image_error> preprocess_decoded(const decoded_image& image, const preprocess_options& o,
                                              std::span<std::byte> out) {
  // cv::resize would otherwise spread one image over OpenCV's own thread
  // pool; the callers' threads (the image model's instances) are the pool.
  static const bool sequential = (cv::setNumThreads(0), true);
  (void)sequential;
  if (auto bad = validate(o)) return bad;
  if (out.size() != output_byte_size(o)) {
    return invalid("output buffer has " + std::to_string(out.size()) + " bytes, the options need " +
                   std::to_string(output_byte_size(o)));
  }
  if (image.channels != o.channels) {
    return invalid("decoded image has " + std::to_string(image.channels) + " channels, the options want " +
                   std::to_string(o.channels));
  }
  if (image.width == 0 || image.height == 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * image.channels) {
    return invalid("decoded image has no pixels or the wrong number of bytes");
  }
  const cv::Mat from(static_cast<int>(image.height), static_cast<int>(image.width), CV_8UC(image.channels),
                     const_cast<std::uint8_t*>(image.pixels.data()));
  const cv::Mat pixels = fitted(from, o);
  if (o.type == element_type::fp32) {
    write_fp32(pixels, o, out);
  } else {
    write_uint8(pixels, o, out);
  }
  return std::nullopt;
}

std::optional<image_error> preprocess(std::span<const std::byte> data, const preprocess_options& o,
                                      std::span<std::byte> out) {
  if (auto bad = validate(o)) return bad;
  auto header = read_header(data);
  if (!header) return std::move(header).error();
  const bool swap = o.apply_orientation && header.value().transposed();
  const double w = swap ? header.value().height : header.value().width;
  const double h = swap ? header.value().width : header.value().height;
  decode_options d;
  d.max_pixels = o.max_pixels;
  d.channels = o.channels;
  d.apply_orientation = o.apply_orientation;
  if (w > 0 && h > 0) std::tie(d.min_width, d.min_height) = needed_size(w, h, o);
  auto image = decode(data, d);
  if (!image) return std::move(image).error();
  return preprocess_decoded(image.value(), o, out);
}

}  // namespace surge::image
