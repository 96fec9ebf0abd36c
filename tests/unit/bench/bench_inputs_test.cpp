#include "bench/kserve_inputs.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstring>
#include <memory>
#include <stdexcept>

#include "bench/kserve_grpc_target.hpp"
#include "bench/load_target.hpp"
#include "frontends/grpc/infer_codec.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

namespace surge::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
T value_of(parsed<T> result) {
  if (auto* problem = std::get_if<std::string>(&result)) throw std::runtime_error("unexpected error: " + *problem);
  return std::get<T>(std::move(result));
}

template <typename T>
std::string problem_of(parsed<T> result) {
  if (std::holds_alternative<T>(result)) throw std::runtime_error("parsed unexpectedly");
  return std::get<std::string>(std::move(result));
}

// What the server makes of a body: the benchmark's bodies must decode.
wire::decoded_infer_request decode(const request_body& body) {
  auto result = wire::decode_infer_request(std::make_shared<const std::string>(body.bytes), body.json_length);
  if (auto* failure = std::get_if<error>(&result)) throw std::runtime_error("server refuses it: " + failure->message);
  return std::move(std::get<wire::decoded_infer_request>(result));
}

std::string bytes_of(const tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data.data()), t.data.size());
}

input_spec spec(std::string name, data_type type, std::vector<std::int64_t> shape) {
  return input_spec{std::move(name), type, std::move(shape)};
}

TEST(BenchInputs, MetadataGivesInputsWithVariableDimensions) {
  const auto metadata = value_of(parse_model_metadata(
      R"({"name":"m","versions":["1","2"],"platform":"identity",
          "inputs":[{"name":"INPUT0","datatype":"FP32","shape":[-1,-1]},
                    {"name":"ids","datatype":"INT64","shape":[-1,8]}],
          "outputs":[{"name":"OUTPUT0","datatype":"FP32","shape":[-1,-1]}]})"));
  EXPECT_EQ(metadata.name, "m");
  EXPECT_THAT(metadata.versions, ElementsAre("1", "2"));
  ASSERT_EQ(metadata.inputs.size(), 2u);
  EXPECT_EQ(metadata.inputs[0].type, data_type::fp32);
  EXPECT_THAT(metadata.inputs[0].shape, ElementsAre(-1, -1));
  EXPECT_EQ(metadata.inputs[1].type, data_type::int64);
  EXPECT_THAT(metadata.inputs[1].shape, ElementsAre(-1, 8));
}

TEST(BenchInputs, MalformedMetadataIsRefused) {
  EXPECT_THAT(problem_of(parse_model_metadata("[]")), HasSubstr("not a JSON object"));
  EXPECT_THAT(problem_of(parse_model_metadata(R"({"name":"m"})")), HasSubstr("\"inputs\""));
  EXPECT_THAT(problem_of(parse_model_metadata(R"({"inputs":[]})")), HasSubstr("no inputs"));
  EXPECT_THAT(problem_of(parse_model_metadata(R"({"inputs":[{"name":"a","datatype":"FP8","shape":[1]}]})")),
              HasSubstr("FP8"));
  EXPECT_THAT(problem_of(parse_model_metadata(R"({"inputs":[{"name":"a","datatype":"FP32","shape":[-2]}]})")),
              HasSubstr("malformed shape"));
}

TEST(BenchInputs, MaxBatchSizeFromTheConfig) {
  EXPECT_EQ(parse_max_batch_size(R"({"name":"m","max_batch_size":64})"), 64);
  EXPECT_EQ(parse_max_batch_size(R"({"name":"m"})"), 0);  // proto3 JSON leaves zero out
  EXPECT_EQ(parse_max_batch_size(R"({"config":{"max_batch_size":"8"}})"), 8);
  EXPECT_EQ(parse_max_batch_size("not json"), std::nullopt);
}

TEST(BenchInputs, BatchDimensionTakesRowsAndOthersTakeOne) {
  const auto resolved = value_of(resolve_shapes({spec("INPUT0", data_type::fp32, {-1, -1}),
                                                 spec("ids", data_type::int64, {-1, 8})},
                                                true, 16, {}));
  EXPECT_THAT(resolved[0].shape, ElementsAre(16, 1));
  EXPECT_THAT(resolved[1].shape, ElementsAre(16, 8));
}

TEST(BenchInputs, WithoutBatchingEveryVariableDimensionIsOne) {
  const auto resolved = value_of(resolve_shapes({spec("x", data_type::fp32, {-1, 4})}, false, 16, {}));
  EXPECT_THAT(resolved[0].shape, ElementsAre(1, 4));
}

TEST(BenchInputs, OverridesGiveTheFullShapeOrTheDimensionsAfterTheBatch) {
  const std::vector<input_spec> inputs{spec("INPUT0", data_type::fp32, {-1, -1})};
  EXPECT_THAT(value_of(resolve_shapes(inputs, true, 4, {{"INPUT0", {1, 16}}}))[0].shape, ElementsAre(1, 16));
  EXPECT_THAT(value_of(resolve_shapes(inputs, true, 4, {{"INPUT0", {16}}}))[0].shape, ElementsAre(4, 16));
}

TEST(BenchInputs, OverridesMustFitTheModel) {
  const std::vector<input_spec> inputs{spec("input", data_type::fp32, {-1, 64})};
  EXPECT_THAT(problem_of(resolve_shapes(inputs, true, 1, {{"input", {2, 65}}})), HasSubstr("does not fit"));
  EXPECT_THAT(problem_of(resolve_shapes(inputs, true, 1, {{"input", {1, 2, 64}}})), HasSubstr("3 dimensions"));
  EXPECT_THAT(problem_of(resolve_shapes(inputs, true, 1, {{"other", {1}}})), HasSubstr("'other'"));
}

class SynthesizedBodies : public ::testing::TestWithParam<data_type> {};

// Every datatype, JSON and binary: the server's decoder accepts the body, the
// shapes are as resolved, and the two encodings carry the same values.
TEST_P(SynthesizedBodies, DecodeToTheSameTensorsInJsonAndBinary) {
  const data_type type = GetParam();
  const std::vector<input_spec> inputs{spec("a", type, {3, 5}), spec("b", data_type::fp32, {3, 2})};
  const auto json = synthesize_request(inputs, true, {false, 7, 99});
  const auto binary = synthesize_request(inputs, true, {true, 7, 99});
  EXPECT_FALSE(json.json_length);
  ASSERT_TRUE(binary.json_length);
  EXPECT_EQ(json.rows, 3);
  EXPECT_EQ(binary.rows, 3);

  const auto from_json = decode(json);
  const auto from_binary = decode(binary);
  ASSERT_EQ(from_json.inputs.size(), 2u);
  ASSERT_EQ(from_binary.inputs.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(from_json.inputs[i].name, inputs[i].name);
    EXPECT_EQ(from_json.inputs[i].type, inputs[i].type);
    EXPECT_EQ(from_json.inputs[i].shape, inputs[i].shape);
    EXPECT_EQ(from_binary.inputs[i].shape, inputs[i].shape);
    EXPECT_EQ(bytes_of(from_json.inputs[i]), bytes_of(from_binary.inputs[i])) << kserve_name(inputs[i].type);
  }
  if (type == data_type::bytes) {
    EXPECT_EQ(from_json.inputs[0].data.size(), 15u * (4 + 7));  // 15 elements of 7 bytes, each length-prefixed
  } else {
    EXPECT_EQ(from_json.inputs[0].data.size(), 15u * element_size(type));
  }
  EXPECT_TRUE(from_binary.binary_outputs_default);
  EXPECT_FALSE(from_json.binary_outputs_default);
}

// gRPC sends the binary body's bytes as raw_input_contents, and the server's
// gRPC decoder takes them.
TEST_P(SynthesizedBodies, RawTensorsCarryTheBinaryBodysBytes) {
  const data_type type = GetParam();
  const std::vector<input_spec> inputs{spec("a", type, {3, 5}), spec("b", data_type::fp32, {3, 2})};
  const auto raw = synthesize_raw_request(inputs, true, {false, 7, 99});
  const auto binary = decode(synthesize_request(inputs, true, {true, 7, 99}));
  EXPECT_EQ(raw.rows, 3);
  ASSERT_EQ(raw.tensors.size(), 2u);
  EXPECT_EQ(raw.byte_size(), raw.tensors[0].size() + raw.tensors[1].size());

  auto message = std::make_shared<inference::ModelInferRequest>();
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(raw.tensors[i], bytes_of(binary.inputs[i])) << kserve_name(inputs[i].type);
    auto& input = *message->add_inputs();
    input.set_name(raw.inputs[i].name);
    input.set_datatype(std::string(kserve_name(raw.inputs[i].type)));
    for (const auto d : raw.inputs[i].shape) input.add_shape(d);
    message->add_raw_input_contents(raw.tensors[i]);
  }
  const auto decoded = grpc_frontend::decode_infer_request(*message, message);
  ASSERT_TRUE(std::holds_alternative<grpc_frontend::decoded_infer_request>(decoded))
      << std::get<error>(decoded).message;
  EXPECT_EQ(bytes_of(std::get<grpc_frontend::decoded_infer_request>(decoded).inputs[0]), raw.tensors[0]);
}

INSTANTIATE_TEST_SUITE_P(EveryDatatype, SynthesizedBodies,
                         ::testing::Values(data_type::bool_, data_type::uint8, data_type::uint16, data_type::uint32,
                                           data_type::uint64, data_type::int8, data_type::int16, data_type::int32,
                                           data_type::int64, data_type::fp16, data_type::bf16, data_type::fp32,
                                           data_type::fp64, data_type::bytes),
                         [](const auto& info) { return std::string(kserve_name(info.param)); });

TEST(BenchInputs, SynthesizedValuesAreInTheirRanges) {
  const auto body = decode(synthesize_request({spec("f", data_type::fp32, {1000}), spec("i", data_type::int32, {1000})},
                                              false, {false, 16, 1}));
  for (int k = 0; k < 1000; ++k) {
    float f = 0;
    std::int32_t i = 0;
    std::memcpy(&f, body.inputs[0].data.data() + 4 * k, 4);
    std::memcpy(&i, body.inputs[1].data.data() + 4 * k, 4);
    ASSERT_GE(f, 0.0f);
    ASSERT_LT(f, 1.0f);
    ASSERT_GE(i, 0);
    ASSERT_LT(i, 100);
  }
}

TEST(BenchInputs, TheSameSeedGivesTheSameBody) {
  const std::vector<input_spec> inputs{spec("x", data_type::fp32, {4, 4})};
  const auto first = synthesize_request(inputs, true, {false, 16, 5}).bytes;
  EXPECT_EQ(first, synthesize_request(inputs, true, {false, 16, 5}).bytes);
  EXPECT_NE(first, synthesize_request(inputs, true, {false, 16, 6}).bytes);
}

TEST(BenchInputs, FileBodiesAreSentAsTheyAre) {
  const std::string file =
      R"({"id":"7","inputs":[{"name":"INPUT0","datatype":"FP32","shape":[2,3],"data":[1,2,3,4,5,6]}]})";
  const auto body = value_of(request_from_file(file, true, false));
  EXPECT_EQ(body.bytes, file);
  EXPECT_FALSE(body.json_length);
  EXPECT_EQ(body.rows, 2);
  ASSERT_EQ(body.inputs.size(), 1u);
  EXPECT_EQ(body.inputs[0].name, "INPUT0");
  EXPECT_EQ(body.inputs[0].type, data_type::fp32);
  EXPECT_THAT(body.inputs[0].shape, ElementsAre(2, 3));
  EXPECT_EQ(value_of(request_from_file(file, false, false)).rows, 1);
}

TEST(BenchInputs, FileBodiesBecomeBinaryWithTheSameValues) {
  const std::string file =
      R"({"id":"7","inputs":[{"name":"INPUT0","datatype":"FP32","shape":[2,3],"data":[[1,2,3],[4,5,6]]},)"
      R"({"name":"s","datatype":"BYTES","shape":[2],"data":["ab","cde"]}],)"
      R"("outputs":[{"name":"OUTPUT0"}],"parameters":{"priority":1}})";
  const auto body = value_of(request_from_file(file, true, true));
  ASSERT_TRUE(body.json_length);
  EXPECT_EQ(body.rows, 2);
  const auto original = decode({file, std::nullopt, 2, {}});
  const auto converted = decode(body);
  EXPECT_EQ(converted.id, "7");
  ASSERT_EQ(converted.inputs.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(converted.inputs[i].name, original.inputs[i].name);
    EXPECT_EQ(converted.inputs[i].shape, original.inputs[i].shape);
    EXPECT_EQ(bytes_of(converted.inputs[i]), bytes_of(original.inputs[i]));
  }
  ASSERT_EQ(converted.outputs.size(), 1u);
  EXPECT_EQ(converted.outputs[0].name, "OUTPUT0");
  EXPECT_TRUE(converted.binary_outputs_default);
  EXPECT_EQ(converted.priority, 1u);
}

TEST(BenchInputs, FilesThatAreNotRequestsAreRefused) {
  EXPECT_THAT(problem_of(request_from_file("{", true, false)), HasSubstr("not a KServe v2 infer request"));
  EXPECT_THAT(problem_of(request_from_file(R"({"inputs":[{"name":"a"}]})", true, false)),
              HasSubstr("not a KServe v2 infer request"));
}

TEST(BenchInputs, ResponsesFromTheServersEncoderPassTheCheck) {
  auto output = make_owned_tensor("OUTPUT0", data_type::fp32, {2, 2}, 16);
  std::memset(mutable_data(output), 0, 16);
  for (const bool binary : {false, true}) {
    const auto encoded = wire::encode_infer_response("m", 3, "", {output}, {}, binary);
    const auto check = check_infer_response(encoded.body, encoded.json_length);
    EXPECT_FALSE(check.problem) << *check.problem;
    EXPECT_EQ(check.model_version, "3");
  }
}

TEST(BenchInputs, RawRequestFromAFileKeepsOutputsAndParameters) {
  const auto raw = value_of(raw_request_from_file(
      R"({"inputs":[{"name":"x","datatype":"INT32","shape":[2,1],"data":[7,8]}],
          "outputs":[{"name":"y"}],"parameters":{"priority":2,"timeout":500}})",
      true));
  EXPECT_EQ(raw.rows, 2);
  ASSERT_EQ(raw.tensors.size(), 1u);
  EXPECT_EQ(raw.tensors[0], std::string("\x07\0\0\0\x08\0\0\0", 8));
  EXPECT_THAT(raw.outputs, ElementsAre("y"));
  EXPECT_EQ(raw.priority, 2u);
  EXPECT_EQ(raw.timeout_us, 500u);
  EXPECT_THAT(problem_of(raw_request_from_file("{}", true)), HasSubstr("not a KServe v2 infer request"));
}

TEST(BenchInputs, GrpcResponsesAreChecked) {
  inference::ModelInferResponse response;
  EXPECT_THAT(*check_grpc_infer_response(response), HasSubstr("no outputs"));
  auto& output = *response.add_outputs();
  output.set_name("o");
  output.set_datatype("FP32");
  output.add_shape(1);
  EXPECT_THAT(*check_grpc_infer_response(response), HasSubstr("neither raw nor typed"));
  response.add_raw_output_contents(std::string(4, '\0'));
  EXPECT_FALSE(check_grpc_infer_response(response));
  response.add_raw_output_contents(std::string(4, '\0'));
  EXPECT_THAT(*check_grpc_infer_response(response), HasSubstr("2 raw_output_contents for 1 outputs"));
}

TEST(BenchInputs, StatusNamesFollowTheProtocol) {
  EXPECT_EQ(status_name("kserve-http", 429), "429");
  EXPECT_EQ(status_name("openai", 503), "503");
  EXPECT_EQ(status_name("kserve-grpc", 14), "UNAVAILABLE");
  EXPECT_EQ(status_name("kserve-grpc", 0), "OK");
  EXPECT_EQ(status_name("kserve-grpc", 16), "UNAUTHENTICATED");
  EXPECT_EQ(status_name("kserve-grpc", 99), "code 99");
}

TEST(BenchInputs, ResponsesThatAreNotKServeFailTheCheck) {
  EXPECT_THAT(*check_infer_response("<html>", std::nullopt).problem, HasSubstr("not a JSON object"));
  EXPECT_THAT(*check_infer_response(R"({"model_name":"m"})", std::nullopt).problem, HasSubstr("\"outputs\""));
  EXPECT_THAT(*check_infer_response(R"({"outputs":[{"name":"o"}]})", std::nullopt).problem,
              HasSubstr("name, datatype or shape"));
  const std::string no_data = R"({"outputs":[{"name":"o","datatype":"FP32","shape":[1]}]})";
  EXPECT_THAT(*check_infer_response(no_data, std::nullopt).problem, HasSubstr("neither data nor binary_data_size"));
  const std::string header =
      R"({"outputs":[{"name":"o","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]})";
  EXPECT_THAT(*check_infer_response(header + "ab", header.size()).problem, HasSubstr("add up to 4 bytes"));
  EXPECT_THAT(*check_infer_response(header, header.size() + 1).problem, HasSubstr("exceeds"));
  EXPECT_FALSE(check_infer_response(header + "abcd", header.size()).problem);
}

}  // namespace
}  // namespace surge::bench
