#pragma once

#include <string>
#include <utility>
#include <variant>

namespace surge::image {

// Why an image could not be turned into a tensor. Every kind is the
// client's data, answered 400, except invalid_options (a caller's options
// that contradict each other: a configuration error).
enum class error_kind {
  not_an_image,        // the bytes start with no known image signature
  unsupported_format,  // a known format this library does not decode (GIF, BMP, TIFF, CMYK JPEG, animated WebP)
  corrupt,             // a JPEG, PNG or WebP whose data is truncated or damaged
  too_large,           // the header declares more pixels than max_pixels: refused before decoding
  invalid_options,     // the preprocess options are inconsistent
};

struct image_error {
  error_kind kind;
  std::string message;  // names what was wrong, e.g. "image too large: 100000x100000 pixels (max_pixels 40000000)"
};

// A value or the reason there is none.
template <class T>
class result {
 public:
  result(T value) : state_(std::move(value)) {}           // NOLINT: implicit, like std::expected
  result(image_error error) : state_(std::move(error)) {}  // NOLINT
  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const T& value() const& { return std::get<0>(state_); }
  const image_error& error() const& { return std::get<1>(state_); }
  image_error&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, image_error> state_;
};

}  // namespace surge::image
