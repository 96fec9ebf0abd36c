#include "model/request_checks.hpp"

#include <gtest/gtest.h>
#include <google/protobuf/text_format.h>

#include <string>

namespace surge {
namespace {

config::ModelConfig identity_config() {
  config::ModelConfig config;
  google::protobuf::TextFormat::ParseFromString(R"(
    name: "identity" max_batch_size: 8
    input { name: "INPUT0" data_type: TYPE_FP32 dims: [3] }
    output { name: "OUTPUT0" data_type: TYPE_FP32 dims: [3] })",
                                                &config);
  return config;
}

inference_request request_with_input(std::string name) {
  inference_request request;
  tensor input;
  input.name = std::move(name);
  input.type = data_type::fp32;
  input.shape = {1, 3};
  request.inputs.push_back(std::move(input));
  return request;
}

// Client text in a message is cut and made UTF-8 (core/client_text.hpp).
TEST(RequestChecks, AHugeInputNameIsQuotedShort) {
  const auto failure = validate_request(identity_config(), request_with_input(std::string(10 * 1024 * 1024, 'n')));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->code, error_code::invalid_argument);
  EXPECT_LT(failure->message.size(), 300u);
  EXPECT_NE(failure->message.find("... (10485760 bytes)"), std::string::npos) << failure->message;
}

TEST(RequestChecks, AnInvalidUtf8NameIsEscaped) {
  const auto failure = validate_request(identity_config(), request_with_input("in\xff\xfe"));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->message, "unknown input 'in\\xff\\xfe' for model 'identity'");
}

TEST(RequestChecks, AnUnknownOutputIsQuotedShort) {
  auto request = request_with_input("INPUT0");
  request.requested_outputs.push_back(std::string(1000, 'o'));
  const auto failure = validate_request(identity_config(), request);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->message,
            "unknown output '" + std::string(128, 'o') + "... (1000 bytes)' for model 'identity'");
}

}  // namespace
}  // namespace surge
