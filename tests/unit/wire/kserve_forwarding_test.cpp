// The codec's forwarding direction: a request encoded for a worker decodes
// back to the same tensors, and a worker's response decodes to its outputs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace surge::wire {
namespace {

using ::testing::HasSubstr;

tensor fp32_tensor(std::string name, std::vector<std::int64_t> shape, std::vector<float> values) {
  auto t = make_owned_tensor(std::move(name), data_type::fp32, std::move(shape), values.size() * sizeof(float));
  std::memcpy(mutable_data(t), values.data(), values.size() * sizeof(float));
  return t;
}

tensor bytes_tensor(std::string name, std::vector<std::string> elements) {
  std::string packed;
  for (const auto& e : elements) {
    const auto length = static_cast<std::uint32_t>(e.size());
    packed.append(reinterpret_cast<const char*>(&length), 4);
    packed += e;
  }
  auto t = make_owned_tensor(std::move(name), data_type::bytes, {static_cast<std::int64_t>(elements.size())},
                             packed.size());
  std::memcpy(mutable_data(t), packed.data(), packed.size());
  return t;
}

std::string bytes_of(const tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data.data()), t.data.size());
}

TEST(KserveForwarding, EncodedRequestDecodesToTheSameInputs) {
  std::vector<tensor> inputs{fp32_tensor("a", {2, 2}, {1.5f, -2.0f, 3.25f, 0.0f}),
                             bytes_tensor("b", {"x", std::string("\0y", 2)})};
  auto encoded = encode_infer_request("req-1", inputs, {"out"});
  auto decoded = decode_infer_request(std::make_shared<const std::string>(encoded.body), encoded.json_length);
  ASSERT_TRUE(std::holds_alternative<decoded_infer_request>(decoded)) << std::get<error>(decoded).message;
  const auto& request = std::get<decoded_infer_request>(decoded);
  EXPECT_EQ(request.id, "req-1");
  ASSERT_EQ(request.inputs.size(), 2u);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(request.inputs[i].name, inputs[i].name);
    EXPECT_EQ(request.inputs[i].type, inputs[i].type);
    EXPECT_EQ(request.inputs[i].shape, inputs[i].shape);
    EXPECT_EQ(bytes_of(request.inputs[i]), bytes_of(inputs[i]));
  }
  ASSERT_EQ(request.outputs.size(), 1u);
  EXPECT_EQ(request.outputs[0].name, "out");
  EXPECT_TRUE(request.outputs[0].binary);
  EXPECT_TRUE(request.binary_outputs_default);
}

TEST(KserveForwarding, ResponseDecodesFromBinaryAndJsonOutputs) {
  std::vector<tensor> outputs{fp32_tensor("y", {1, 3}, {0.5f, 1.0f, -1.0f}), bytes_tensor("s", {"hello"})};
  for (const bool binary : {true, false}) {
    auto encoded = encode_infer_response("m", 3, "id-9", outputs, {}, binary);
    auto decoded = decode_infer_response(std::make_shared<const std::string>(encoded.body), encoded.json_length);
    ASSERT_TRUE(std::holds_alternative<decoded_infer_response>(decoded)) << std::get<error>(decoded).message;
    const auto& response = std::get<decoded_infer_response>(decoded);
    EXPECT_EQ(response.id, "id-9");
    ASSERT_EQ(response.outputs.size(), 2u);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      EXPECT_EQ(response.outputs[i].name, outputs[i].name);
      EXPECT_EQ(response.outputs[i].shape, outputs[i].shape);
      EXPECT_EQ(bytes_of(response.outputs[i]), bytes_of(outputs[i])) << "binary " << binary;
    }
  }
}

TEST(KserveForwarding, MalformedResponsesNameTheProblem) {
  const auto failure = [](std::string body, std::optional<std::size_t> length = std::nullopt) {
    auto decoded = decode_infer_response(std::make_shared<const std::string>(std::move(body)), length);
    return std::holds_alternative<error>(decoded) ? std::get<error>(decoded).message : std::string("decoded");
  };
  EXPECT_THAT(failure("{"), HasSubstr("malformed JSON"));
  EXPECT_THAT(failure("{}"), HasSubstr("no \"outputs\""));
  EXPECT_THAT(failure(R"({"outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[1]}]})"),
              HasSubstr("output 'y'"));
  EXPECT_THAT(failure(R"({"outputs":[]})", 99), HasSubstr("larger than"));
  EXPECT_THAT(failure(R"({"outputs":[]})" "xx", 14), HasSubstr("binary section holds 2 bytes"));
}

}  // namespace
}  // namespace surge::wire
