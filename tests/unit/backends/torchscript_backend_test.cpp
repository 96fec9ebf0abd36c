// Runs models written by scripts/make_models.py through the TorchScript
// backend. libtorch cannot author TorchScript from C++, so these tests use the
// demo repository and skip, saying why, when it has not been generated.
#include "backend_loader/backend_instance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "support/backend_test_support.hpp"

namespace surge {
namespace {

std::filesystem::path model_repository() {
  if (const char* env = std::getenv("SURGE_MODEL_REPOSITORY")) return env;
  // tests/unit/data -> <source>/model_repository
  return std::filesystem::path(SURGE_TEST_DATA_DIR).parent_path().parent_path().parent_path() / "model_repository";
}

tensor make_fp32(std::string name, std::vector<std::int64_t> shape, const std::vector<float>& values) {
  tensor t = make_owned_tensor(std::move(name), data_type::fp32, std::move(shape), values.size() * sizeof(float));
  std::memcpy(mutable_data(t), values.data(), values.size() * sizeof(float));
  return t;
}

std::vector<float> floats(const tensor& t) {
  std::vector<float> out(t.data.size() / sizeof(float));
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

class torchscript_backend_test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(backend_library::library_path(SURGE_BACKEND_DIR, "torchscript"))) {
      GTEST_SKIP() << "the torchscript backend was not built (SURGE_BUILD_TORCHSCRIPT=OFF)";
    }
    auto loaded = backend_library::load(SURGE_BACKEND_DIR, "torchscript");
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<backend_library>>(loaded))
        << std::get<error>(loaded).message;
    library_ = std::get<std::shared_ptr<backend_library>>(std::move(loaded));
  }

  void require_model(const std::string& name) {
    if (!std::filesystem::exists(model_repository() / name / "1" / "model.pt")) {
      GTEST_SKIP() << "no " << (model_repository() / name / "1" / "model.pt").string()
                   << "; run /usr/bin/python3 scripts/make_models.py --output model_repository";
    }
  }

  std::variant<backend_instance_handle, error> instance(backend_model_spec spec) {
    auto model = backend_model::create(library_, std::move(spec));
    if (auto* e = std::get_if<error>(&model)) return *e;
    return backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(std::move(model)), 0);
  }

  static backend_model_spec iris_spec() {
    backend_model_spec spec;
    spec.model_name = "iris";
    spec.version = 1;
    spec.version_directory = model_repository() / "iris" / "1";
    spec.max_batch_size = 64;
    spec.inputs = {{"features", data_type::fp32, {4}}};
    spec.outputs = {{"probabilities", data_type::fp32, {3}}};
    return spec;
  }

  std::shared_ptr<backend_library> library_;
};

TEST_F(torchscript_backend_test, iris_classifies_one_flower_of_each_species) {
  require_model("iris");
  auto handle = instance(iris_spec());
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;

  // Raw measurements (cm) of samples 0, 50 and 100 of the iris data set:
  // setosa, versicolor, virginica. The model standardizes internally.
  const std::vector<float> batch = {5.1f, 3.5f, 1.4f, 0.2f, 7.0f, 3.2f, 4.7f, 1.4f, 6.3f, 3.3f, 6.0f, 2.5f};
  auto result = testing::execute_one(std::get<backend_instance_handle>(handle), {make_fp32("features", {3, 4}, batch)});
  ASSERT_TRUE(std::holds_alternative<std::vector<tensor>>(result)) << std::get<error>(result).message;
  const auto& outputs = std::get<std::vector<tensor>>(result);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name, "probabilities");
  EXPECT_EQ(outputs[0].shape, (std::vector<std::int64_t>{3, 3}));
  const auto p = floats(outputs[0]);
  for (int row = 0; row < 3; ++row) {
    const auto first = p.begin() + row * 3;
    EXPECT_NEAR(std::accumulate(first, first + 3, 0.0), 1.0, 1e-5) << "row " << row;
    EXPECT_EQ(std::max_element(first, first + 3) - first, row) << "row " << row;
  }
}

TEST_F(torchscript_backend_test, a_batch_of_requests_runs_as_one_forward_and_each_gets_its_rows) {
  require_model("iris");
  auto handle = instance(iris_spec());
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  const std::vector<std::vector<float>> flowers = {
      {5.1f, 3.5f, 1.4f, 0.2f}, {7.0f, 3.2f, 4.7f, 1.4f, 6.3f, 3.3f, 6.0f, 2.5f}};
  std::vector<request_ptr> batch;
  batch.push_back(testing::request_of("setosa", {make_fp32("features", {1, 4}, flowers[0])}).request);
  batch.push_back(testing::request_of("two_more", {make_fp32("features", {2, 4}, flowers[1])}).request);
  auto results = testing::execute_batch(std::get<backend_instance_handle>(handle), batch);
  ASSERT_EQ(results.size(), 2u);
  for (std::size_t r = 0; r < 2; ++r) {
    const auto* outputs = testing::outputs_of(results[r]);
    ASSERT_TRUE(outputs) << testing::message_of(results[r]);
    const auto rows = static_cast<std::int64_t>(r + 1);
    EXPECT_EQ(outputs->at(0).shape, (std::vector<std::int64_t>{rows, 3}));
    const auto p = floats(outputs->at(0));
    for (std::int64_t row = 0; row < rows; ++row) {
      const auto first = p.begin() + row * 3;
      // Species 0 for the first request, 1 and 2 for the second's rows.
      EXPECT_EQ(std::max_element(first, first + 3) - first, static_cast<std::int64_t>(r) + row) << r << "/" << row;
    }
  }
}

TEST_F(torchscript_backend_test, wrong_input_type_is_invalid_argument_naming_the_input) {
  require_model("iris");
  auto handle = instance(iris_spec());
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  tensor doubles = make_owned_tensor("features", data_type::fp64, {1, 4}, 4 * sizeof(double));
  std::memset(mutable_data(doubles), 0, 4 * sizeof(double));
  auto result = testing::execute_one(std::get<backend_instance_handle>(handle), {doubles});
  ASSERT_TRUE(std::holds_alternative<error>(result));
  EXPECT_EQ(std::get<error>(result).code, error_code::invalid_argument);
  EXPECT_NE(std::get<error>(result).message.find("'features'"), std::string::npos) << std::get<error>(result).message;
}

TEST_F(torchscript_backend_test, positional_inputs_and_thread_parameter) {
  // mlp's forward() argument is not named like its config input, so the input
  // is passed by position.
  require_model("mlp");
  backend_model_spec spec;
  spec.model_name = "mlp";
  spec.version = 1;
  spec.version_directory = model_repository() / "mlp" / "1";
  spec.max_batch_size = 64;
  spec.inputs = {{"input", data_type::fp32, {64}}};
  spec.outputs = {{"output", data_type::fp32, {10}}};
  spec.parameters = {{"intra_op_threads", "1"}};
  auto handle = instance(spec);
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  auto result = testing::execute_one(std::get<backend_instance_handle>(handle),
                                     {make_fp32("input", {2, 64}, std::vector<float>(128, 0.5f))});
  ASSERT_TRUE(std::holds_alternative<std::vector<tensor>>(result)) << std::get<error>(result).message;
  EXPECT_EQ(std::get<std::vector<tensor>>(result)[0].shape, (std::vector<std::int64_t>{2, 10}));
}

TEST_F(torchscript_backend_test, missing_model_file_names_the_file) {
  auto spec = iris_spec();
  spec.version_directory = std::filesystem::temp_directory_path() / "surge_no_such_model" / "1";
  auto handle = instance(spec);
  ASSERT_TRUE(std::holds_alternative<error>(handle));
  EXPECT_NE(std::get<error>(handle).message.find("surge_no_such_model/1/model.pt"), std::string::npos)
      << std::get<error>(handle).message;
}

TEST_F(torchscript_backend_test, unknown_parameter_fails_load_naming_it) {
  auto spec = iris_spec();
  spec.parameters = {{"intra_op_thread", "2"}};
  auto handle = instance(spec);
  ASSERT_TRUE(std::holds_alternative<error>(handle));
  EXPECT_NE(std::get<error>(handle).message.find("'intra_op_thread'"), std::string::npos)
      << std::get<error>(handle).message;
}

}  // namespace
}  // namespace surge
