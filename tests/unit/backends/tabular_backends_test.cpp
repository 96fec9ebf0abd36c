// The onnxruntime and xgboost backends on the demo models scripts/make_models.py
// writes (iris_onnx, iris_xgboost, onnx_strings): batches of several
// requests each get their own rows back, one bad request of a batch is
// answered alone, and a config that contradicts the model fails the load
// naming the tensor. The models are authored in Python, so these tests skip,
// saying why, when the demo repository lacks them.
#include "backend_loader/backend_instance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "support/backend_test_support.hpp"

namespace surge {
namespace {

std::filesystem::path model_repository() {
  if (const char* env = std::getenv("SURGE_MODEL_REPOSITORY")) return env;
  return std::filesystem::path(SURGE_TEST_DATA_DIR).parent_path().parent_path().parent_path() / "model_repository";
}

// Rows 0, 50 and 100 of the iris data set: setosa, versicolor, virginica.
const std::vector<std::vector<float>> flowers = {
    {5.1f, 3.5f, 1.4f, 0.2f}, {7.0f, 3.2f, 4.7f, 1.4f}, {6.3f, 3.3f, 6.0f, 2.5f}};

tensor bytes_tensor(std::string name, const std::vector<std::string>& elements) {
  std::size_t size = 0;
  for (const auto& e : elements) size += 4 + e.size();
  const auto rows = static_cast<std::int64_t>(elements.size());
  tensor t = make_owned_tensor(std::move(name), data_type::bytes, {rows, 1}, size);
  auto* cursor = mutable_data(t);
  for (const auto& e : elements) {
    const auto length = static_cast<std::uint32_t>(e.size());
    std::memcpy(cursor, &length, 4);
    std::memcpy(cursor + 4, e.data(), e.size());
    cursor += 4 + e.size();
  }
  return t;
}

class tabular_backends_test : public ::testing::Test {
 protected:
  std::shared_ptr<backend_library> library(const std::string& name) {
    auto loaded = backend_library::load(SURGE_BACKEND_DIR, name);
    if (auto* e = std::get_if<error>(&loaded)) {
      ADD_FAILURE() << e->message;
      return nullptr;
    }
    return std::get<std::shared_ptr<backend_library>>(std::move(loaded));
  }

  static backend_model_spec spec_of(const std::string& model, const std::string& file) {
    backend_model_spec spec;
    spec.model_name = model;
    spec.version = 1;
    spec.version_directory = model_repository() / model / "1";
    if (!std::filesystem::exists(spec.version_directory / file)) {
      spec.version_directory.clear();  // the test skips
    }
    return spec;
  }

  std::variant<backend_instance_handle, error> instance(const std::string& backend, backend_model_spec spec) {
    auto lib = library(backend);
    if (!lib) return make_error(error_code::internal, "no library");
    auto model = backend_model::create(lib, std::move(spec));
    if (auto* e = std::get_if<error>(&model)) return *e;
    return backend_instance_handle::create(std::get<std::shared_ptr<backend_model>>(std::move(model)), 0);
  }

  static backend_model_spec iris_spec(const std::string& model, const std::string& file) {
    auto spec = spec_of(model, file);
    // One thread: the frameworks' own pools are not instrumented, which
    // ThreadSanitizer runs of these tests would misread as races.
    spec.parameters = {{model == "iris_xgboost" ? "threads" : "intra_op_threads", "1"}};
    spec.max_batch_size = 64;
    spec.inputs = {{"features", data_type::fp32, {4}}};
    spec.outputs = {{"probabilities", data_type::fp32, {3}}};
    return spec;
  }

  // One request per flower, run as one batch: each gets its own flower's class.
  void classify_each_flower(backend_instance_handle& handle) {
    std::vector<request_ptr> batch;
    for (std::size_t i = 0; i < flowers.size(); ++i) {
      batch.push_back(testing::request_of("r" + std::to_string(i),
                                          {testing::make_input("features", data_type::fp32, {1, 4}, flowers[i])})
                          .request);
    }
    auto results = testing::execute_batch(handle, batch);
    ASSERT_EQ(results.size(), flowers.size());
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto* outputs = testing::outputs_of(results[i]);
      ASSERT_TRUE(outputs) << testing::message_of(results[i]);
      const auto& probabilities = *std::find_if(outputs->begin(), outputs->end(),
                                                [](const tensor& t) { return t.name == "probabilities"; });
      EXPECT_EQ(probabilities.shape, (std::vector<std::int64_t>{1, 3}));
      const auto p = testing::values_of<float>(probabilities);
      EXPECT_EQ(static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin()), i) << "flower " << i;
    }
  }
};

#define REQUIRE_MODEL(spec)                                                                               \
  if ((spec).version_directory.empty()) {                                                                 \
    GTEST_SKIP() << "demo model missing in " << model_repository().string()                               \
                 << "; run /usr/bin/python3 scripts/make_models.py --output model_repository";            \
  }

TEST_F(tabular_backends_test, onnx_batch_of_requests_each_gets_its_own_class) {
  auto spec = iris_spec("iris_onnx", "model.onnx");
  REQUIRE_MODEL(spec);
  spec.outputs.push_back({"label", data_type::int64, {1}});
  auto handle = instance("onnxruntime", spec);
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  classify_each_flower(std::get<backend_instance_handle>(handle));
}

TEST_F(tabular_backends_test, xgboost_batch_of_requests_each_gets_its_own_class) {
  auto spec = iris_spec("iris_xgboost", "model.json");
  REQUIRE_MODEL(spec);
  auto handle = instance("xgboost", spec);
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  classify_each_flower(std::get<backend_instance_handle>(handle));
}

TEST_F(tabular_backends_test, xgboost_margin_and_leaf_follow_the_model) {
  for (const auto& [type, dims] : {std::pair<std::string, std::int64_t>{"margin", 3}, {"leaf", 60}}) {
    auto spec = iris_spec("iris_xgboost", "model.json");
    REQUIRE_MODEL(spec);
    spec.parameters = {{"predict_type", type}, {"threads", "1"}};
    spec.outputs = {{"probabilities", data_type::fp32, {dims}}};  // 20 rounds x 3 classes of trees for leaf
    auto handle = instance("xgboost", spec);
    ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << type << ": "
                                                                         << std::get<error>(handle).message;
    auto result = testing::execute_one(std::get<backend_instance_handle>(handle),
                                       {testing::make_input("features", data_type::fp32, {1, 4}, flowers[0])});
    const auto* outputs = testing::outputs_of(result);
    ASSERT_TRUE(outputs) << testing::message_of(result);
    EXPECT_EQ(outputs->at(0).shape, (std::vector<std::int64_t>{1, dims})) << type;
  }
}

TEST_F(tabular_backends_test, contradicting_shapes_fail_the_load_naming_tensor_and_both_shapes) {
  auto onnx = iris_spec("iris_onnx", "model.onnx");
  REQUIRE_MODEL(onnx);
  onnx.inputs = {{"features", data_type::fp32, {5}}};
  auto handle = instance("onnxruntime", onnx);
  ASSERT_TRUE(std::holds_alternative<error>(handle));
  const auto& message = std::get<error>(handle).message;
  EXPECT_NE(message.find("'features'"), std::string::npos) << message;
  EXPECT_NE(message.find("[-1, 5]"), std::string::npos) << message;
  EXPECT_NE(message.find("[-1, 4]"), std::string::npos) << message;

  onnx.inputs = {{"features", data_type::fp64, {4}}};
  handle = instance("onnxruntime", onnx);
  ASSERT_TRUE(std::holds_alternative<error>(handle));
  EXPECT_NE(std::get<error>(handle).message.find("FP64"), std::string::npos) << std::get<error>(handle).message;

  auto xgb = iris_spec("iris_xgboost", "model.json");
  xgb.inputs = {{"features", data_type::fp32, {3}}};
  handle = instance("xgboost", xgb);
  ASSERT_TRUE(std::holds_alternative<error>(handle));
  EXPECT_NE(std::get<error>(handle).message.find("'features'"), std::string::npos) << std::get<error>(handle).message;
}

TEST_F(tabular_backends_test, a_request_with_bad_text_is_answered_alone) {
  auto spec = spec_of("onnx_strings", "model.onnx");
  REQUIRE_MODEL(spec);
  spec.max_batch_size = 16;
  spec.parameters = {{"intra_op_threads", "1"}};
  spec.inputs = {{"text", data_type::bytes, {1}}};
  spec.outputs = {{"echo", data_type::bytes, {1}}, {"species_id", data_type::int64, {1}}};
  auto handle = instance("onnxruntime", spec);
  ASSERT_TRUE(std::holds_alternative<backend_instance_handle>(handle)) << std::get<error>(handle).message;
  std::vector<request_ptr> batch;
  batch.push_back(testing::request_of("good", {bytes_tensor("text", {"virginica", "tulip"})}).request);
  batch.push_back(testing::request_of("bad", {bytes_tensor("text", {"\xc3\x28"})}).request);
  batch.push_back(testing::request_of("nul", {bytes_tensor("text", {std::string("setosa\0x", 8)})}).request);
  auto results = testing::execute_batch(std::get<backend_instance_handle>(handle), batch);
  ASSERT_EQ(results.size(), 3u);

  const auto* good = testing::outputs_of(results[0]);
  ASSERT_TRUE(good) << testing::message_of(results[0]);
  EXPECT_EQ(testing::values_of<std::int64_t>(good->at(1)), (std::vector<std::int64_t>{2, -1}));
  EXPECT_EQ(good->at(0).shape, (std::vector<std::int64_t>{2, 1}));

  ASSERT_TRUE(std::holds_alternative<error>(results[1]));
  EXPECT_EQ(std::get<error>(results[1]).code, error_code::invalid_argument);
  EXPECT_NE(std::get<error>(results[1]).message.find("'text'"), std::string::npos);

  // An embedded NUL survives the round trip (and is not "setosa").
  const auto* nul = testing::outputs_of(results[2]);
  ASSERT_TRUE(nul) << testing::message_of(results[2]);
  EXPECT_EQ(nul->at(0).data.size(), 4u + 8u);
  EXPECT_EQ(testing::values_of<std::int64_t>(nul->at(1)), (std::vector<std::int64_t>{-1}));
}

}  // namespace
}  // namespace surge
