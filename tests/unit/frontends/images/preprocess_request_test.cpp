#include "frontends/images/preprocess_request.hpp"

#include <gtest/gtest.h>

namespace surge::images {
namespace {

std::string failure(std::string_view body, request_bounds bounds = {}) {
  auto parsed = parse_preprocess_request(body, bounds);
  auto* message = std::get_if<std::string>(&parsed);
  return message ? *message : "(parsed)";
}

TEST(PreprocessRequest, DefaultsApplyWhenOnlyUrlsAreGiven) {
  auto parsed = parse_preprocess_request(R"({"urls": ["http://a/b.jpg"]})", {});
  ASSERT_TRUE(std::holds_alternative<preprocess_request>(parsed)) << std::get<std::string>(parsed);
  const auto& request = std::get<preprocess_request>(parsed);
  EXPECT_EQ(request.urls, std::vector<std::string>{"http://a/b.jpg"});
  EXPECT_EQ(request.options.width, 224u);
  EXPECT_EQ(request.options.height, 224u);
  EXPECT_EQ(request.options.resize, image::resize_mode::stretch);
  EXPECT_EQ(request.options.layout, image::tensor_layout::nchw);
  EXPECT_EQ(request.options.type, image::element_type::fp32);
  EXPECT_EQ(request.options.order, image::color_order::rgb);
}

TEST(PreprocessRequest, EveryFieldIsRead) {
  auto parsed = parse_preprocess_request(
      R"({"urls": ["u"], "size": [32, 48], "resize": "crop", "mean": [1, 2, 3], "std": [4, 5, 6],
          "layout": "NHWC", "dtype": "UINT8", "color": "BGR"})",
      {});
  ASSERT_TRUE(std::holds_alternative<preprocess_request>(parsed)) << std::get<std::string>(parsed);
  const auto& o = std::get<preprocess_request>(parsed).options;
  EXPECT_EQ(o.height, 32u);
  EXPECT_EQ(o.width, 48u);
  EXPECT_EQ(o.resize, image::resize_mode::center_crop);
  EXPECT_EQ(o.mean, (std::array<float, 3>{1, 2, 3}));
  EXPECT_EQ(o.std, (std::array<float, 3>{4, 5, 6}));
  EXPECT_EQ(o.layout, image::tensor_layout::nhwc);
  EXPECT_EQ(o.type, image::element_type::uint8);
  EXPECT_EQ(o.order, image::color_order::bgr);
}

TEST(PreprocessRequest, EachBadFieldIsNamed) {
  EXPECT_EQ(failure("[1]").rfind("request body", 0), 0u);
  EXPECT_EQ(failure("{").rfind("request body: not valid JSON", 0), 0u);
  EXPECT_EQ(failure("{}").rfind("urls:", 0), 0u);
  EXPECT_EQ(failure(R"({"urls": [""]})").rfind("urls[0]:", 0), 0u);
  EXPECT_EQ(failure(R"({"urls": ["u"], "size": [1, 5000]})").rfind("size:", 0), 0u);
  EXPECT_EQ(failure(R"({"urls": ["u"], "size": [1.5, 2]})").rfind("size:", 0), 0u);
  EXPECT_EQ(failure(R"({"urls": ["u"], "mean": [0, 0, "x"]})").rfind("mean:", 0), 0u);
  EXPECT_EQ(failure(R"({"urls": ["u"], "std": [1, -1, 1]})").rfind("std:", 0), 0u);
  EXPECT_EQ(failure(R"({"urls": ["u"], "resize": 3})").rfind("resize:", 0), 0u);
  EXPECT_EQ(failure(R"({"urls": ["u"], "extra": 1})").rfind("\"extra\": unknown field", 0), 0u);
}

TEST(PreprocessRequest, TheBoundsAreKept) {
  request_bounds bounds;
  bounds.max_urls = 2;
  EXPECT_EQ(failure(R"({"urls": ["a", "b", "c"]})", bounds), "urls: 3 URLs, at most 2 are taken");
  bounds.max_output_elements = 3 * 10 * 10;
  EXPECT_EQ(failure(R"({"urls": ["a", "b"], "size": [10, 10]})", bounds).rfind("size: 2 images of 10x10", 0), 0u);
}

}  // namespace
}  // namespace surge::images
