#include "model/classification.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "config/model_config.hpp"
#include "support/temp_dir.hpp"
#include "support/test_support.hpp"

namespace surge {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
tensor tensor_of(data_type type, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  auto t = make_owned_tensor("scores", type, std::move(shape), values.size() * sizeof(T));
  std::memcpy(mutable_data(t), values.data(), values.size() * sizeof(T));
  return t;
}

std::vector<std::string> elements(const tensor& t) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < t.data.size();) {
    std::uint32_t length = 0;
    std::memcpy(&length, t.data.data() + at, sizeof length);
    at += sizeof length;
    out.emplace_back(reinterpret_cast<const char*>(t.data.data() + at), length);
    at += length;
  }
  return out;
}

TEST(classification, each_batch_row_gets_its_top_classes_as_value_index_label) {
  const std::vector<std::string> labels{"setosa", "versicolor", "virginica"};
  const auto scores = tensor_of<float>(data_type::fp32, {2, 3}, {0.1f, 0.7f, 0.2f, 0.9f, 0.05f, 0.05f});
  auto classified = classify(scores, 2, true, &labels);
  ASSERT_TRUE(std::holds_alternative<tensor>(classified));
  const auto& out = std::get<tensor>(classified);
  EXPECT_EQ(out.name, "scores");
  EXPECT_EQ(out.type, data_type::bytes);
  EXPECT_EQ(out.shape, (std::vector<std::int64_t>{2, 2}));
  // Ties keep index order.
  EXPECT_THAT(elements(out), ElementsAre("0.699999988:1:versicolor", "0.200000003:2:virginica",
                                         "0.899999976:0:setosa", "0.050000001:1:versicolor"));
}

TEST(classification, without_labels_or_batching_and_with_more_classes_asked_than_there_are) {
  const auto scores = tensor_of<std::int32_t>(data_type::int32, {4}, {1, 5, 10, 4});
  auto classified = classify(scores, 9, false, nullptr);
  const auto& out = std::get<tensor>(classified);
  EXPECT_EQ(out.shape, (std::vector<std::int64_t>{4}));
  EXPECT_THAT(elements(out), ElementsAre("10:2", "5:1", "4:3", "1:0"));

  // An index past the label file's last line has no label.
  const std::vector<std::string> short_labels{"one"};
  const auto two = tensor_of<double>(data_type::fp64, {1, 2}, {0.25, 0.75});
  EXPECT_THAT(elements(std::get<tensor>(classify(two, 2, true, &short_labels))),
              ElementsAre("0.750000000:1", "0.250000000:0:one"));
}

TEST(classification, types_without_an_order_here_are_refused) {
  auto bools = make_owned_tensor("flags", data_type::bool_, {1, 2}, 2);
  auto refused = classify(bools, 1, true, nullptr);
  ASSERT_TRUE(std::holds_alternative<error>(refused));
  EXPECT_EQ(std::get<error>(refused).message, "output 'flags': a BOOL tensor cannot be classified");
}

config::ModelConfig classifier_config(const std::string& label_filename) {
  auto parsed = parse_model_config(
      "name: \"iris\" backend: \"identity\" max_batch_size: 8\n"
      "input [ { name: \"features\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
      "output [ { name: \"probabilities\" data_type: TYPE_FP32 dims: [ 3 ] label_filename: \"" +
          label_filename + "\" }, { name: \"text\" data_type: TYPE_STRING dims: [ 1 ] } ]\n",
      "iris/config.pbtxt");
  EXPECT_TRUE(parsed.config) << parsed.error;
  auto completed = complete_model_config(std::move(*parsed.config), "iris", "iris/config.pbtxt");
  EXPECT_TRUE(completed.config) << completed.error;
  return completed.config ? *completed.config : config::ModelConfig{};
}

TEST(classification, labels_are_read_from_the_model_directory_one_per_line) {
  testing::temp_dir directory("surge_labels");
  std::ofstream(directory.path() / "labels.txt") << "setosa\r\nversicolor\nvirginica\n";
  auto read = read_output_labels(classifier_config("labels.txt"), directory.path());
  ASSERT_TRUE(std::holds_alternative<output_labels>(read)) << std::get<error>(read).message;
  EXPECT_THAT(std::get<output_labels>(read).at("probabilities"), ElementsAre("setosa", "versicolor", "virginica"));

  auto missing = read_output_labels(classifier_config("absent.txt"), directory.path());
  ASSERT_TRUE(std::holds_alternative<error>(missing));
  EXPECT_THAT(std::get<error>(missing).message,
              HasSubstr("output 'probabilities': label_filename 'absent.txt': no such"));
}

TEST(classification, a_label_filename_must_not_be_a_path) {
  auto parsed = parse_model_config("name: \"m\" backend: \"identity\" max_batch_size: 8\n"
                                   "input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 ] } ]\n"
                                   "output [ { name: \"y\" data_type: TYPE_FP32 dims: [ 3 ] "
                                   "label_filename: \"../labels.txt\" } ]\n",
                                   "m/config.pbtxt");
  ASSERT_TRUE(parsed.config);
  EXPECT_THAT(complete_model_config(std::move(*parsed.config), "m", "m/config.pbtxt").error,
              HasSubstr("output.label_filename: output \"y\": \"../labels.txt\" must be a file name, not a path"));
}

TEST(classification, requests_are_checked_and_the_sink_classifies_what_was_asked) {
  const auto config = classifier_config("labels.txt");
  inference_request request;
  request.classifications = {{"text", 1}};
  EXPECT_EQ(validate_classifications(config, request)->message, "output 'text': a BYTES output cannot be classified");
  request.classifications = {{"nope", 1}};
  EXPECT_THAT(validate_classifications(config, request)->message, HasSubstr("has no such output"));
  request.classifications = {{"probabilities", 1}};
  EXPECT_FALSE(validate_classifications(config, request));

  auto recorded = std::make_shared<testing::recording_sink>();
  auto labels = std::make_shared<const output_labels>(output_labels{{"probabilities", {"a", "b", "c"}}});
  auto sink = classifying_sink(recorded, {{"probabilities", 1}}, true, labels);
  inference_response response;
  response.outputs.push_back(tensor_of<float>(data_type::fp32, {1, 3}, {0.2f, 0.3f, 0.5f}));
  response.outputs.back().name = "probabilities";
  response.outputs.push_back(tensor_of<float>(data_type::fp32, {1, 3}, {0.2f, 0.3f, 0.5f}));
  sink->send(std::move(response));
  sink->finish(std::nullopt);
  ASSERT_EQ(recorded->finish_count, 1);
  EXPECT_FALSE(recorded->failure);
  const auto& outputs = recorded->responses.at(0).outputs;
  EXPECT_THAT(elements(outputs[0]), ElementsAre("0.500000000:2:c"));
  EXPECT_EQ(outputs[1].type, data_type::fp32);  // not asked for: as the model answered
}

}  // namespace
}  // namespace surge
