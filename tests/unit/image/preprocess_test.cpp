#include "image/preprocess.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "image/encode_support.hpp"
#include "image/preprocess_parameters.hpp"

namespace surge::image {
namespace {

using testing::bytes_of;

std::vector<float> run_fp32(const std::string& encoded, const preprocess_options& o) {
  std::vector<float> out(output_byte_size(o) / sizeof(float));
  auto failed = preprocess(bytes_of(encoded), o, std::as_writable_bytes(std::span<float>(out)));
  EXPECT_FALSE(failed) << failed->message;
  return out;
}

preprocess_options sized(std::uint32_t width, std::uint32_t height, int channels = 3) {
  preprocess_options o;
  o.width = width;
  o.height = height;
  o.channels = channels;
  return o;
}

TEST(preprocess_test, normalises_each_channel_in_nchw) {
  testing::picture p = testing::uniform(8, 8, 3, 0);
  for (std::size_t i = 0; i < p.pixels.size(); i += 3) {
    p.pixels[i] = 51;       // R: 0.2
    p.pixels[i + 1] = 102;  // G: 0.4
    p.pixels[i + 2] = 255;  // B: 1.0
  }
  auto o = sized(4, 4);
  o.mean = {0.5f, 0.5f, 0.5f};
  o.std = {0.5f, 0.25f, 1.0f};
  const auto out = run_fp32(testing::png(p), o);
  ASSERT_EQ(out.size(), 48u);
  EXPECT_NEAR(out[0], (0.2f - 0.5f) / 0.5f, 1e-6);
  EXPECT_NEAR(out[16], (0.4f - 0.5f) / 0.25f, 1e-6);
  EXPECT_NEAR(out[47], 0.5f, 1e-6);

  o.order = color_order::bgr;
  o.layout = tensor_layout::nhwc;
  o.mean = {0, 0, 0};
  o.std = {1, 1, 1};
  const auto bgr = run_fp32(testing::png(p), o);
  EXPECT_NEAR(bgr[0], 1.0f, 1e-6);  // B first
  EXPECT_NEAR(bgr[1], 0.4f, 1e-6);
  EXPECT_NEAR(bgr[2], 0.2f, 1e-6);
}

TEST(preprocess_test, stretch_matches_opencv_resize_of_the_pixels) {
  const auto p = testing::gradient(40, 30, 1);
  auto o = sized(10, 10, 1);
  o.scale = 1.0f;
  o.interp = interpolation::area;
  const auto out = run_fp32(testing::png(p), o);
  // INTER_AREA over 4x3 blocks: pixel (0,0) is the mean of the top-left block.
  float mean = 0;
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) mean += p.at(x, y, 0);
  EXPECT_NEAR(out[0], mean / 12.0f, 1.0f);
}

TEST(preprocess_test, letterbox_pads_around_the_fitted_picture) {
  const auto p = testing::uniform(20, 10, 1, 200);  // twice as wide as tall
  auto o = sized(10, 10, 1);
  o.resize = resize_mode::letterbox;
  o.pad_value = 0;
  o.scale = 1.0f;
  const auto out = run_fp32(testing::png(p), o);
  // 10x5 centred: rows 2..6 are the picture, 0..1 and 7..9 the border.
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1 * 10 + 5], 0.0f);
  EXPECT_EQ(out[2 * 10 + 5], 200.0f);
  EXPECT_EQ(out[6 * 10 + 0], 200.0f);
  EXPECT_EQ(out[7 * 10 + 5], 0.0f);
  EXPECT_EQ(out[9 * 10 + 9], 0.0f);
}

TEST(preprocess_test, a_far_from_square_header_is_refused_as_too_large_in_every_resize_mode) {
  // 1,275,070,472 x 2: covering a 224 x 224 output scales the long side past
  // what uint32_t holds (found by the image_decode fuzz target).
  const auto encoded = testing::png_header_only(1275070472, 2);
  auto o = sized(224, 224);
  std::vector<std::byte> out(output_byte_size(o));
  for (auto mode : {resize_mode::stretch, resize_mode::letterbox, resize_mode::center_crop}) {
    o.resize = mode;
    auto failed = preprocess(bytes_of(encoded), o, out);
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->kind, error_kind::too_large);
  }
}

TEST(preprocess_test, center_crop_keeps_the_middle) {
  // Left third 0, middle third 100, right third 255; 30x10 cropped to 10x10 after covering.
  testing::picture p = testing::uniform(30, 10, 1, 100);
  for (int y = 0; y < 10; ++y) {
    for (int x = 0; x < 10; ++x) p.pixels[y * 30 + x] = 0;
    for (int x = 20; x < 30; ++x) p.pixels[y * 30 + x] = 255;
  }
  auto o = sized(10, 10, 1);
  o.resize = resize_mode::center_crop;
  o.scale = 1.0f;
  const auto out = run_fp32(testing::png(p), o);
  for (float v : out) EXPECT_EQ(v, 100.0f);
}

TEST(preprocess_test, uint8_output_is_the_pixels) {
  const auto p = testing::gradient(6, 4, 3);
  auto o = sized(6, 4);
  o.type = element_type::uint8;
  o.layout = tensor_layout::nhwc;
  std::vector<std::uint8_t> out(output_byte_size(o));
  ASSERT_FALSE(preprocess(bytes_of(testing::png(p)), o, std::as_writable_bytes(std::span<std::uint8_t>(out))));
  EXPECT_EQ(out, p.pixels);
}

TEST(preprocess_test, image_errors_pass_through_and_options_are_checked) {
  auto o = sized(4, 4);
  std::vector<std::byte> out(output_byte_size(o));
  auto failed = preprocess(bytes_of("not an image at all"), o, out);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->kind, error_kind::not_an_image);
  o.channels = 2;
  failed = preprocess(bytes_of(testing::png(testing::gradient(4, 4, 3))), o, out);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->kind, error_kind::invalid_options);
  o.channels = 3;
  std::vector<std::byte> wrong(7);
  failed = preprocess(bytes_of(testing::png(testing::gradient(4, 4, 3))), o, wrong);
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->message.find("output buffer has 7 bytes"), std::string::npos);
}

TEST(preprocess_parameters_test, each_field_from_text) {
  preprocess_options o;
  EXPECT_FALSE(set_parameter(o, "resize_mode", "letterbox"));
  EXPECT_EQ(o.resize, resize_mode::letterbox);
  EXPECT_FALSE(set_parameter(o, "mean", "0.485,0.456,0.406"));
  EXPECT_FLOAT_EQ(o.mean[2], 0.406f);
  EXPECT_FALSE(set_parameter(o, "std", "0.5"));
  EXPECT_FLOAT_EQ(o.std[1], 0.5f);
  EXPECT_FALSE(set_parameter(o, "layout", "NHWC"));
  EXPECT_FALSE(set_parameter(o, "color_order", "BGR"));
  EXPECT_FALSE(set_parameter(o, "max_pixels", "1000"));
  EXPECT_EQ(o.max_pixels, 1000u);
  EXPECT_FALSE(set_parameter(o, "interpolation", "linear"));
  EXPECT_EQ(o.interp, interpolation::linear);
}

TEST(preprocess_parameters_test, bad_values_name_the_parameter) {
  preprocess_options o;
  EXPECT_EQ(set_parameter(o, "resize_mode", "squash").value_or(""),
            "parameter 'resize_mode' must be stretch, letterbox or center_crop, got 'squash'");
  EXPECT_EQ(set_parameter(o, "mean", "1,2").value_or(""),
            "parameter 'mean' must be one number or three separated by commas, got '1,2'");
  EXPECT_EQ(set_parameter(o, "std", "0").value_or(""), "parameter 'std' must be non-zero, got '0'");
  EXPECT_EQ(set_parameter(o, "pad_value", "256").value_or(""),
            "parameter 'pad_value' must be an integer 0..255, got '256'");
  EXPECT_NE(set_parameter(o, "colour", "RGB").value_or("").find("unknown parameter 'colour'"), std::string::npos);
}

}  // namespace
}  // namespace surge::image
