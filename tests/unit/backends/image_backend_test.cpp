// The image backend through the loader: a batch of encoded images comes
// back as one tensor row each, a corrupt image fails only its request with
// a message naming the input, and a config that contradicts itself fails
// the load naming the parameter or tensor.
#include "backend_loader/backend_instance.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "image/encode_support.hpp"
#include "support/backend_test_support.hpp"

namespace surge {
namespace {

tensor images_tensor(const std::vector<std::string>& images) {
  std::size_t size = 0;
  for (const auto& e : images) size += 4 + e.size();
  tensor t = make_owned_tensor("image", data_type::bytes, {static_cast<std::int64_t>(images.size()), 1}, size);
  auto* cursor = mutable_data(t);
  for (const auto& e : images) {
    const auto length = static_cast<std::uint32_t>(e.size());
    std::memcpy(cursor, &length, 4);
    std::memcpy(cursor + 4, e.data(), e.size());
    cursor += 4 + e.size();
  }
  return t;
}

backend_model_spec spec_of(std::vector<std::int64_t> dims, data_type type = data_type::fp32,
                           std::vector<std::pair<std::string, std::string>> parameters = {}) {
  backend_model_spec spec;
  spec.model_name = "digits_image";
  spec.version = 1;
  spec.max_batch_size = 8;
  spec.inputs = {{"image", data_type::bytes, {1}}};
  spec.outputs = {{"pixels", type, std::move(dims)}};
  spec.parameters = std::move(parameters);
  return spec;
}

std::variant<backend_instance_handle, error> instance(backend_model_spec spec) {
  auto loaded = backend_library::load(SURGE_BACKEND_DIR, "image");
  if (auto* e = std::get_if<error>(&loaded)) return *e;
  auto model = backend_model::create(std::get<std::shared_ptr<backend_library>>(std::move(loaded)), std::move(spec));
  if (auto* e = std::get_if<error>(&model)) return *e;
  return backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(std::move(model)), 0);
}

std::string load_error(backend_model_spec spec) {
  auto handle = instance(std::move(spec));
  if (auto* e = std::get_if<error>(&handle)) return e->message;
  return "(loaded)";
}

TEST(image_backend_test, each_request_gets_its_own_rows_and_a_corrupt_image_fails_alone) {
  auto handle = instance(spec_of({1, 4, 4}, data_type::fp32, {{"scale", "1"}}));
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  using image::testing::uniform;
  std::vector<request_ptr> batch;
  batch.push_back(testing::request_of("two", {images_tensor({image::testing::png(uniform(8, 8, 1, 10)),
                                                             image::testing::webp(uniform(4, 4, 3, 20))})})
                      .request);
  batch.push_back(testing::request_of("bad", {images_tensor({image::testing::png(uniform(8, 8, 1, 10)),
                                                             "definitely not an image"})})
                      .request);
  batch.push_back(testing::request_of("one", {images_tensor({image::testing::jpeg(uniform(16, 16, 1, 30), 100)})})
                      .request);
  auto results = testing::execute_batch(std::get<backend_instance_handle>(handle), batch);
  ASSERT_EQ(results.size(), 3u);

  const auto* two = testing::outputs_of(results[0]);
  ASSERT_TRUE(two) << testing::message_of(results[0]);
  EXPECT_EQ(two->front().shape, (std::vector<std::int64_t>{2, 1, 4, 4}));
  const auto values = testing::values_of<float>(two->front());
  EXPECT_EQ(values[0], 10.0f);
  EXPECT_EQ(values[16], 20.0f);

  const auto* failure = std::get_if<error>(&results[1]);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->code, error_code::invalid_argument);
  EXPECT_EQ(failure->message.rfind("input 'image' row 1: not an image", 0), 0u) << failure->message;

  const auto* one = testing::outputs_of(results[2]);
  ASSERT_TRUE(one) << testing::message_of(results[2]);
  EXPECT_NEAR(testing::values_of<float>(one->front())[5], 30.0f, 1.0f);
}

TEST(image_backend_test, a_bomb_is_refused_naming_its_size) {
  auto handle = instance(spec_of({3, 8, 8}));
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  auto result = testing::execute_one(std::get<backend_instance_handle>(handle),
                                     {images_tensor({image::testing::png_header_only(100000, 100000)})});
  const auto* failure = std::get_if<error>(&result);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->code, error_code::invalid_argument);
  EXPECT_EQ(failure->message, "input 'image': image too large: 100000x100000 pixels (max_pixels 40000000)");
}

TEST(image_backend_test, uint8_nhwc_bgr_output) {
  auto handle = instance(spec_of({2, 2, 3}, data_type::uint8, {{"layout", "NHWC"}, {"color_order", "BGR"}}));
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  image::testing::picture p = image::testing::uniform(2, 2, 3, 0);
  for (std::size_t i = 0; i < p.pixels.size(); i += 3) p.pixels[i] = 255;  // pure red
  auto result = testing::execute_one(std::get<backend_instance_handle>(handle), {images_tensor({image::testing::png(p)})});
  const auto* outputs = testing::outputs_of(result);
  ASSERT_TRUE(outputs) << testing::message_of(result);
  const auto values = testing::values_of<std::uint8_t>(outputs->front());
  EXPECT_EQ(values, (std::vector<std::uint8_t>{0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255}));
}

TEST(image_backend_test, config_mismatches_fail_the_load_naming_the_parameter) {
  EXPECT_NE(load_error(spec_of({3, 224, 224}, data_type::fp32, {{"layout", "NHWC"}})).find("parameter 'layout'"),
            std::string::npos);
  EXPECT_NE(load_error(spec_of({1, 28, 28}, data_type::fp32, {{"mean", "0.1,0.2,0.3"}})).find("parameter 'mean' has 3 values"),
            std::string::npos);
  EXPECT_NE(load_error(spec_of({3, 8, 8}, data_type::uint8, {{"std", "0.5"}})).find("parameter 'std' applies to a TYPE_FP32"),
            std::string::npos);
  EXPECT_NE(load_error(spec_of({3, 8, 8}, data_type::fp32, {{"resize_mode", "squash"}})).find("parameter 'resize_mode'"),
            std::string::npos);
  EXPECT_NE(load_error(spec_of({3, 8, 8}, data_type::fp32, {{"width", "9"}})).find("unknown parameter 'width'"),
            std::string::npos);
  EXPECT_NE(load_error(spec_of({3, 8}, data_type::fp32)).find("three fixed dims"), std::string::npos);
  EXPECT_NE(load_error(spec_of({3, 8, 8}, data_type::int32)).find("TYPE_FP32 or TYPE_UINT8"), std::string::npos);
  auto unbatched = spec_of({3, 8, 8});
  unbatched.max_batch_size = 0;
  EXPECT_NE(load_error(unbatched).find("max_batch_size > 0"), std::string::npos);
  auto wrong_input = spec_of({3, 8, 8});
  wrong_input.inputs = {{"image", data_type::fp32, {1}}};
  EXPECT_NE(load_error(wrong_input).find("input 'image' must be TYPE_STRING"), std::string::npos);
}

}  // namespace
}  // namespace surge
