#include "image/decode.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "image/encode_support.hpp"

namespace surge::image {
namespace {

using testing::bytes_of;

void expect_pixels_near(const decoded_image& image, const testing::picture& p, int tolerance) {
  ASSERT_EQ(image.width, static_cast<std::uint32_t>(p.width));
  ASSERT_EQ(image.height, static_cast<std::uint32_t>(p.height));
  ASSERT_EQ(image.channels, p.channels);
  int worst = 0;
  for (std::size_t i = 0; i < p.pixels.size(); ++i) worst = std::max(worst, std::abs(image.pixels[i] - p.pixels[i]));
  EXPECT_LE(worst, tolerance);
}

TEST(decode_test, png_and_lossless_webp_give_their_pixels_back) {
  const auto p = testing::gradient(37, 21, 3);
  for (const auto& encoded : {testing::png(p), testing::webp(p)}) {
    auto image = decode(bytes_of(encoded));
    ASSERT_TRUE(image) << image.error().message;
    expect_pixels_near(image.value(), p, 0);
  }
}

TEST(decode_test, jpeg_is_close_to_its_pixels) {
  const auto p = testing::uniform(32, 16, 3, 90);
  auto image = decode(bytes_of(testing::jpeg(p, 95)));
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(image.value().format, image_format::jpeg);
  expect_pixels_near(image.value(), p, 2);
}

TEST(decode_test, grey_images_expand_to_rgb_and_colour_reduces_to_grey) {
  const auto grey = testing::gradient(16, 8, 1);
  auto expanded = decode(bytes_of(testing::png(grey)));
  ASSERT_TRUE(expanded) << expanded.error().message;
  ASSERT_EQ(expanded.value().channels, 3);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(expanded.value().pixels[5 * 3 + c], grey.pixels[5]);

  decode_options one;
  one.channels = 1;
  for (const auto& encoded : {testing::png(grey), testing::webp(grey), testing::jpeg(grey, 100)}) {
    auto reduced = decode(bytes_of(encoded), one);
    ASSERT_TRUE(reduced) << reduced.error().message;
    expect_pixels_near(reduced.value(), grey, 2);
  }
}

TEST(decode_test, jpeg_decodes_at_the_smallest_dct_scale_still_covering_the_target) {
  const auto p = testing::uniform(800, 600, 3, 128);
  const auto encoded = testing::jpeg(p);
  decode_options options;
  options.min_width = 100;
  options.min_height = 75;
  auto image = decode(bytes_of(encoded), options);
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(image.value().width, 100u);  // 1/8
  EXPECT_EQ(image.value().height, 75u);
  options.min_width = 101;  // 1/8 no longer covers it; 1/4 does
  image = decode(bytes_of(encoded), options);
  ASSERT_TRUE(image);
  EXPECT_GE(image.value().width, 101u);
  EXPECT_LT(image.value().width, 800u);
  options.min_width = 1000;  // larger than the picture: full size, never enlarged
  image = decode(bytes_of(encoded), options);
  ASSERT_TRUE(image);
  EXPECT_EQ(image.value().width, 800u);
}

TEST(decode_test, exif_orientation_turns_the_picture_upright) {
  // 2x1: left pixel black, right pixel white (grey so JPEG keeps them apart).
  testing::picture p{16, 8, 1, std::vector<std::uint8_t>(16 * 8, 0)};
  for (int y = 0; y < 8; ++y)
    for (int x = 8; x < 16; ++x) p.pixels[y * 16 + x] = 255;
  const auto encoded = testing::jpeg(p, 100);
  decode_options one;
  one.channels = 1;
  // 6: the camera was turned clockwise; upright, the left half is on top.
  auto image = decode(bytes_of(testing::with_orientation(encoded, 6)), one);
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(image.value().width, 8u);
  EXPECT_EQ(image.value().height, 16u);
  EXPECT_LT(image.value().pixels[0], 30);                // top: the stored left half
  EXPECT_GT(image.value().pixels[15 * 8 + 7], 225);      // bottom: the stored right half
  // 8: the other way round.
  image = decode(bytes_of(testing::with_orientation(encoded, 8)), one);
  ASSERT_TRUE(image);
  EXPECT_GT(image.value().pixels[0], 225);
  // 3: upside down; 2: mirrored.
  for (int orientation : {2, 3}) {
    image = decode(bytes_of(testing::with_orientation(encoded, orientation)), one);
    ASSERT_TRUE(image);
    EXPECT_EQ(image.value().width, 16u);
    EXPECT_GT(image.value().pixels[0], 225) << orientation;
  }
  one.apply_orientation = false;
  image = decode(bytes_of(testing::with_orientation(encoded, 6)), one);
  ASSERT_TRUE(image);
  EXPECT_EQ(image.value().width, 16u);
}

TEST(decode_test, a_bomb_is_refused_from_its_header) {
  auto image = decode(bytes_of(testing::png_header_only(100000, 100000)));
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().kind, error_kind::too_large);
  EXPECT_EQ(image.error().message, "image too large: 100000x100000 pixels (max_pixels 40000000)");
  decode_options small;
  small.max_pixels = 100;
  image = decode(bytes_of(testing::webp(testing::gradient(11, 10, 3))), small);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().kind, error_kind::too_large);
  EXPECT_NE(image.error().message.find("11x10"), std::string::npos);
}

TEST(decode_test, truncated_images_are_corrupt) {
  const auto p = testing::gradient(64, 48, 3);
  for (const auto& encoded : {testing::jpeg(p), testing::png(p), testing::webp(p)}) {
    // Cut inside the pixel data (a PNG missing only its IEND chunk still decodes whole).
    for (std::size_t keep : {encoded.size() / 2, encoded.size() - 20}) {
      auto image = decode(bytes_of(encoded.substr(0, keep)));
      ASSERT_FALSE(image) << keep << " of " << encoded.size() << " bytes of " << encoded.substr(0, 4);
      EXPECT_EQ(image.error().kind, error_kind::corrupt) << image.error().message;
      EXPECT_EQ(image.error().message.rfind("truncated or corrupt ", 0), 0u) << image.error().message;
    }
  }
}

TEST(decode_test, a_failed_jpeg_leaves_the_next_one_on_the_same_thread_unharmed) {
  const auto p = testing::uniform(64, 48, 3, 77);
  const auto encoded = testing::jpeg(p);
  for (int round = 0; round < 3; ++round) {
    ASSERT_FALSE(decode(bytes_of(encoded.substr(0, encoded.size() / 2))));
    ASSERT_FALSE(decode(bytes_of(encoded.substr(0, 3))));
    auto image = decode(bytes_of(encoded));
    ASSERT_TRUE(image) << image.error().message;
    expect_pixels_near(image.value(), p, 2);
  }
}

TEST(decode_test, not_an_image_and_unsupported_formats_say_so) {
  auto text = decode(bytes_of("hello, world"));
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().kind, error_kind::not_an_image);
  EXPECT_EQ(text.error().message.rfind("not an image", 0), 0u);
  auto empty = decode({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, error_kind::not_an_image);
  auto gif = decode(bytes_of("GIF89a\x01\x00\x01\x00"));
  ASSERT_FALSE(gif);
  EXPECT_EQ(gif.error().kind, error_kind::unsupported_format);
  EXPECT_EQ(gif.error().message, "unsupported image format: GIF (JPEG, PNG and WebP are decoded)");
}

TEST(decode_test, header_reports_format_size_and_orientation) {
  auto header = read_header(bytes_of(testing::with_orientation(testing::jpeg(testing::gradient(30, 20, 3)), 6)));
  ASSERT_TRUE(header);
  EXPECT_EQ(header.value().format, image_format::jpeg);
  EXPECT_EQ(header.value().width, 30u);
  EXPECT_EQ(header.value().height, 20u);
  EXPECT_EQ(header.value().orientation, 6);
  EXPECT_TRUE(header.value().transposed());
}

}  // namespace
}  // namespace surge::image
