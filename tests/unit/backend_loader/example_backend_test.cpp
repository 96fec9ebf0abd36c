// backends/example, the backend docs/backends.md tells users to copy, loaded
// and run so that it keeps working.
#include <gtest/gtest.h>

#include "backend_loader/backend_instance.hpp"
#include "support/backend_test_support.hpp"

namespace surge {
namespace {

using testing::make_input;
using testing::message_of;
using testing::outputs_of;
using testing::request_of;
using testing::values_of;

backend_instance_handle example_instance(std::vector<std::pair<std::string, std::string>> parameters) {
  auto library = backend_library::load(SURGE_BACKEND_DIR, "example");
  EXPECT_TRUE(std::holds_alternative<std::shared_ptr<backend_library>>(library)) << std::get<error>(library).message;
  backend_model_spec spec;
  spec.model_name = "scale";
  spec.version = 1;
  spec.max_batch_size = 4;
  spec.inputs = {{"x", data_type::fp32, {-1}}};
  spec.outputs = {{"y", data_type::fp32, {-1}}};
  spec.parameters = std::move(parameters);
  auto model = backend_model::create(std::get<std::shared_ptr<backend_library>>(library), spec);
  EXPECT_TRUE(std::holds_alternative<std::shared_ptr<backend_model>>(model)) << std::get<error>(model).message;
  EXPECT_TRUE(std::get<std::shared_ptr<backend_model>>(model)->short_execute());
  auto handle = backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(model), 0);
  return std::get<backend_instance_handle>(std::move(handle));
}

TEST(example_backend_test, scales_each_request_by_its_own_or_the_models_factor) {
  auto handle = example_instance({{"factor", "3"}});
  std::vector<request_ptr> batch;
  batch.push_back(request_of("default", {make_input<float>("x", data_type::fp32, {1, 2}, {1, 2})}).request);
  batch.push_back(
      request_of("own", {make_input<float>("x", data_type::fp32, {1, 2}, {1, 2})}, {{"factor", "0.5"}}).request);
  batch.push_back(
      request_of("bad", {make_input<float>("x", data_type::fp32, {1, 1}, {1})}, {{"factor", "lots"}}).request);
  auto results = testing::execute_batch(handle, batch);
  ASSERT_TRUE(outputs_of(results[0])) << message_of(results[0]);
  EXPECT_EQ(values_of<float>(outputs_of(results[0])->at(0)), (std::vector<float>{3, 6}));
  EXPECT_EQ(outputs_of(results[0])->at(0).name, "y");
  ASSERT_TRUE(outputs_of(results[1])) << message_of(results[1]);
  EXPECT_EQ(values_of<float>(outputs_of(results[1])->at(0)), (std::vector<float>{0.5f, 1}));
  ASSERT_TRUE(std::holds_alternative<error>(results[2]));
  EXPECT_EQ(std::get<error>(results[2]).code, error_code::invalid_argument);
  EXPECT_NE(message_of(results[2]).find("'factor'"), std::string::npos) << message_of(results[2]);
}

TEST(example_backend_test, refuses_tensors_that_are_not_fp32) {
  auto library = backend_library::load(SURGE_BACKEND_DIR, "example");
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_library>>(library));
  backend_model_spec spec;
  spec.model_name = "scale";
  spec.inputs = {{"x", data_type::int32, {2}}};
  spec.outputs = {{"y", data_type::int32, {2}}};
  auto model = backend_model::create(std::get<std::shared_ptr<backend_library>>(library), spec);
  ASSERT_TRUE(std::holds_alternative<error>(model));
  EXPECT_NE(std::get<error>(model).message.find("FP32"), std::string::npos) << std::get<error>(model).message;
}

}  // namespace
}  // namespace surge
