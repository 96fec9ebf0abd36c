#include "frontends/grpc/infer_codec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/framed.hpp"

#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "frontends/grpc/grpc_status.hpp"

namespace surge::grpc_frontend {
namespace {

using ::testing::HasSubstr;
using request_message = inference::ModelInferRequest;

std::shared_ptr<request_message> make_message() { return std::make_shared<request_message>(); }

decoded_infer_request decode_or_throw(const std::shared_ptr<request_message>& message) {
  auto result = decode_infer_request(*message, message);
  if (auto* failure = std::get_if<error>(&result)) throw std::runtime_error("decode failed: " + failure->message);
  return std::move(std::get<decoded_infer_request>(result));
}

std::string decode_failure(const std::shared_ptr<request_message>& message) {
  auto result = decode_infer_request(*message, message);
  if (std::holds_alternative<decoded_infer_request>(result)) throw std::runtime_error("decode succeeded unexpectedly");
  const auto& failure = std::get<error>(result);
  EXPECT_EQ(failure.code, error_code::invalid_argument);
  return failure.message;
}

inference::ModelInferRequest::InferInputTensor& add_input(request_message& message, const std::string& name,
                                                          const std::string& datatype,
                                                          std::vector<std::int64_t> shape) {
  auto& input = *message.add_inputs();
  input.set_name(name);
  input.set_datatype(datatype);
  for (auto d : shape) input.add_shape(d);
  return input;
}

template <typename T, typename V>
void append(google::protobuf::RepeatedField<T>* field, std::initializer_list<V> values) {
  for (const auto value : values) field->Add(static_cast<T>(value));
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
std::vector<T> values_of(const tensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

std::string bytes_of(const tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data.data()), t.data.size());
}

using surge::testing::framed;

// ---- raw inputs ----

TEST(grpc_infer_codec, raw_input_is_a_view_into_the_message) {
  auto message = make_message();
  message->set_id("req-7");
  add_input(*message, "INPUT0", "FP32", {2, 2});
  message->add_raw_input_contents(raw_bytes<float>({1.f, 2.f, 3.f, 4.f}));

  auto decoded = decode_or_throw(message);
  EXPECT_EQ(decoded.id, "req-7");
  ASSERT_EQ(decoded.inputs.size(), 1u);
  const auto& input = decoded.inputs[0];
  EXPECT_EQ(input.name, "INPUT0");
  EXPECT_EQ(input.type, data_type::fp32);
  EXPECT_EQ(input.shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(static_cast<const void*>(input.data.data()),
            static_cast<const void*>(message->raw_input_contents(0).data()));
  EXPECT_EQ(values_of<float>(input), (std::vector<float>{1.f, 2.f, 3.f, 4.f}));

  // The tensor keeps the message alive on its own.
  std::weak_ptr<request_message> watch = message;
  message.reset();
  EXPECT_FALSE(watch.expired());
  decoded.inputs.clear();
  EXPECT_TRUE(watch.expired());
}

TEST(grpc_infer_codec, raw_size_must_match_the_shape) {
  auto message = make_message();
  add_input(*message, "INPUT0", "FP32", {1, 4});
  message->add_raw_input_contents(std::string(12, '\0'));
  EXPECT_EQ(decode_failure(message),
            "input 'INPUT0': raw_input_contents[0] holds 12 bytes, but shape [1,4] of FP32 needs 16");
}

TEST(grpc_infer_codec, raw_must_cover_every_input) {
  auto message = make_message();
  add_input(*message, "A", "FP32", {1});
  add_input(*message, "B", "FP32", {1});
  message->add_raw_input_contents(raw_bytes<float>({1.f}));
  EXPECT_EQ(decode_failure(message), "raw_input_contents has 1 entries for 2 inputs not in shared memory: send every such input raw, or none");
}

TEST(grpc_infer_codec, raw_and_typed_do_not_mix) {
  auto message = make_message();
  add_input(*message, "A", "FP32", {1}).mutable_contents()->add_fp32_contents(1.f);
  message->add_raw_input_contents(raw_bytes<float>({1.f}));
  EXPECT_THAT(decode_failure(message), HasSubstr("input 'A': has contents while the request uses raw_input_contents"));
}

TEST(grpc_infer_codec, raw_bytes_elements_are_checked) {
  auto message = make_message();
  add_input(*message, "TEXT", "BYTES", {2});
  message->add_raw_input_contents(framed({"ab", "cde"}));
  auto decoded = decode_or_throw(message);
  EXPECT_EQ(bytes_of(decoded.inputs[0]), framed({"ab", "cde"}));

  message->set_raw_input_contents(0, framed({"ab"}));
  EXPECT_EQ(decode_failure(message), "input 'TEXT': raw_input_contents[0] holds 1 elements, the shape needs 2");
  message->set_raw_input_contents(0, std::string("\x09\0\0\0abc", 7));
  EXPECT_EQ(decode_failure(message),
            "input 'TEXT': BYTES element 0 has length 9 but only 3 bytes of raw_input_contents[0] remain");
  message->set_raw_input_contents(0, framed({"ab"}) + std::string("\x01\0", 2));
  EXPECT_EQ(decode_failure(message), "input 'TEXT': BYTES element 1 has a cut-off length prefix: 2 of 4 bytes");
}

TEST(grpc_infer_codec, half_floats_travel_raw) {
  for (const auto* datatype : {"FP16", "BF16"}) {
    auto message = make_message();
    add_input(*message, "H", datatype, {3});
    message->add_raw_input_contents(raw_bytes<std::uint16_t>({0x3c00, 0x4000, 0xc000}));
    auto decoded = decode_or_throw(message);
    EXPECT_EQ(values_of<std::uint16_t>(decoded.inputs[0]), (std::vector<std::uint16_t>{0x3c00, 0x4000, 0xc000}));

    auto typed = make_message();
    add_input(*typed, "H", datatype, {1}).mutable_contents()->add_fp32_contents(1.f);
    EXPECT_EQ(decode_failure(typed), "input 'H': " + std::string(datatype) +
                                         " data must be sent in raw_input_contents (InferTensorContents has no field "
                                         "for it)");
  }
}

// ---- typed contents ----

TEST(grpc_infer_codec, typed_contents_are_converted_to_the_datatype) {
  auto message = make_message();
  append(add_input(*message, "F", "FP32", {2}).mutable_contents()->mutable_fp32_contents(), {0.5f, -1.f});
  add_input(*message, "D", "FP64", {1}).mutable_contents()->add_fp64_contents(1e300);
  append(add_input(*message, "I8", "INT8", {2}).mutable_contents()->mutable_int_contents(), {-128, 127});
  add_input(*message, "I16", "INT16", {1}).mutable_contents()->add_int_contents(-300);
  add_input(*message, "I64", "INT64", {1})
      .mutable_contents()
      ->add_int64_contents(std::numeric_limits<std::int64_t>::min());
  add_input(*message, "U8", "UINT8", {1}).mutable_contents()->add_uint_contents(255);
  add_input(*message, "U16", "UINT16", {1}).mutable_contents()->add_uint_contents(65535);
  add_input(*message, "U64", "UINT64", {1})
      .mutable_contents()
      ->add_uint64_contents(std::numeric_limits<std::uint64_t>::max());
  append(add_input(*message, "B", "BOOL", {3}).mutable_contents()->mutable_bool_contents(), {true, false, true});
  auto& text = *add_input(*message, "S", "BYTES", {2}).mutable_contents();
  text.add_bytes_contents("");
  text.add_bytes_contents(std::string("x\0y", 3));

  auto decoded = decode_or_throw(message);
  const auto& in = decoded.inputs;
  ASSERT_EQ(in.size(), 10u);
  EXPECT_EQ(values_of<float>(in[0]), (std::vector<float>{0.5f, -1.f}));
  EXPECT_EQ(values_of<double>(in[1]), (std::vector<double>{1e300}));
  EXPECT_EQ(values_of<std::int8_t>(in[2]), (std::vector<std::int8_t>{-128, 127}));
  EXPECT_EQ(values_of<std::int16_t>(in[3]), (std::vector<std::int16_t>{-300}));
  EXPECT_EQ(values_of<std::int64_t>(in[4]), (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min()}));
  EXPECT_EQ(values_of<std::uint8_t>(in[5]), (std::vector<std::uint8_t>{255}));
  EXPECT_EQ(values_of<std::uint16_t>(in[6]), (std::vector<std::uint16_t>{65535}));
  EXPECT_EQ(values_of<std::uint64_t>(in[7]), (std::vector<std::uint64_t>{std::numeric_limits<std::uint64_t>::max()}));
  EXPECT_EQ(values_of<std::uint8_t>(in[8]), (std::vector<std::uint8_t>{1, 0, 1}));
  EXPECT_EQ(bytes_of(in[9]), framed({"", std::string("x\0y", 3)}));
  // Converted tensors own their bytes: the message may go.
  std::weak_ptr<request_message> watch = message;
  message.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(grpc_infer_codec, narrow_types_refuse_values_they_cannot_hold) {
  auto message = make_message();
  append(add_input(*message, "I8", "INT8", {2}).mutable_contents()->mutable_int_contents(), {1, 128});
  EXPECT_EQ(decode_failure(message), "input 'I8': element 1 (128) is out of range for INT8");

  auto unsigned_message = make_message();
  add_input(*unsigned_message, "U16", "UINT16", {1}).mutable_contents()->add_uint_contents(65536);
  EXPECT_EQ(decode_failure(unsigned_message), "input 'U16': element 0 (65536) is out of range for UINT16");
}

TEST(grpc_infer_codec, typed_element_count_must_match_the_shape) {
  auto message = make_message();
  append(add_input(*message, "F", "FP32", {2, 3}).mutable_contents()->mutable_fp32_contents(), {1.f, 2.f});
  EXPECT_EQ(decode_failure(message), "input 'F': shape [2,3] needs 6 elements, fp32_contents has 2");
}

TEST(grpc_infer_codec, typed_data_must_be_in_the_datatypes_field) {
  auto message = make_message();
  add_input(*message, "I", "INT32", {1}).mutable_contents()->add_int64_contents(1);
  EXPECT_EQ(decode_failure(message), "input 'I': INT32 data goes in int_contents, but int64_contents is set");
}

TEST(grpc_infer_codec, an_input_without_data_is_refused_unless_empty) {
  auto message = make_message();
  add_input(*message, "F", "FP32", {2});
  EXPECT_EQ(decode_failure(message), "input 'F': no data: set contents, or send every input in raw_input_contents");

  auto empty = make_message();
  add_input(*empty, "F", "FP32", {0, 4});
  auto decoded = decode_or_throw(empty);
  EXPECT_EQ(decoded.inputs[0].data.size(), 0u);
}

TEST(grpc_infer_codec, tensor_headers_are_checked) {
  auto unnamed = make_message();
  add_input(*unnamed, "", "FP32", {1});
  EXPECT_EQ(decode_failure(unnamed), "inputs[0] has no name");

  auto no_type = make_message();
  add_input(*no_type, "A", "", {1});
  EXPECT_EQ(decode_failure(no_type), "input 'A': missing datatype");

  auto unknown = make_message();
  add_input(*unknown, "A", "FLOAT32", {1});
  EXPECT_EQ(decode_failure(unknown), "input 'A': unknown datatype 'FLOAT32'");

  auto negative = make_message();
  add_input(*negative, "A", "FP32", {-1, 2});
  EXPECT_EQ(decode_failure(negative), "input 'A': shape [-1,2] has a negative dimension");

  auto huge = make_message();
  add_input(*huge, "A", "FP64", {std::int64_t{1} << 40, std::int64_t{1} << 30});
  EXPECT_EQ(decode_failure(huge), "input 'A': shape [1099511627776,1073741824] has too many elements");

  auto twice = make_message();
  add_input(*twice, "A", "FP32", {1}).mutable_contents()->add_fp32_contents(1.f);
  add_input(*twice, "A", "FP32", {1}).mutable_contents()->add_fp32_contents(2.f);
  EXPECT_EQ(decode_failure(twice), "input 'A' appears twice");

  auto shared = make_message();
  auto& input = add_input(*shared, "A", "FP32", {1});
  (*input.mutable_parameters())["shared_memory_region"].set_string_param("r");
  EXPECT_EQ(decode_failure(shared), "input 'A': names a shared_memory_region but no shared_memory_byte_size");
}

TEST(grpc_infer_codec, shared_memory_inputs_take_no_raw_entry) {
  auto message = make_message();
  auto& in_region = add_input(*message, "A", "FP32", {4});
  (*in_region.mutable_parameters())["shared_memory_region"].set_string_param("r");
  (*in_region.mutable_parameters())["shared_memory_byte_size"].set_int64_param(16);
  (*in_region.mutable_parameters())["shared_memory_offset"].set_int64_param(8);
  add_input(*message, "B", "FP32", {1});
  const float value = 3.f;
  message->add_raw_input_contents()->assign(reinterpret_cast<const char*>(&value), sizeof value);
  auto* output = message->add_outputs();
  output->set_name("Y");
  (*output->mutable_parameters())["shared_memory_region"].set_string_param("out");
  (*output->mutable_parameters())["shared_memory_byte_size"].set_int64_param(64);
  auto decoded = decode_infer_request(*message, message);
  ASSERT_TRUE(std::holds_alternative<decoded_infer_request>(decoded)) << std::get<error>(decoded).message;
  const auto& request = std::get<decoded_infer_request>(decoded);
  ASSERT_EQ(request.inputs.size(), 2u);
  EXPECT_TRUE(request.inputs[0].data.empty());
  EXPECT_EQ(request.inputs[1].data.size(), 4u);
  ASSERT_EQ(request.shared_memory_inputs.size(), 1u);
  EXPECT_EQ(request.shared_memory_inputs[0].first, 0u);
  EXPECT_EQ(request.shared_memory_inputs[0].second.region, "r");
  EXPECT_EQ(request.shared_memory_inputs[0].second.offset, 8u);
  EXPECT_EQ(request.shared_memory_inputs[0].second.byte_size, 16u);
  ASSERT_EQ(request.shared_memory_outputs.size(), 1u);
  EXPECT_EQ(request.shared_memory_outputs[0].first, "Y");
}

// ---- parameters and outputs ----

TEST(grpc_infer_codec, request_parameters) {
  auto message = make_message();
  auto& parameters = *message->mutable_parameters();
  parameters["priority"].set_uint64_param(2);
  parameters["timeout"].set_int64_param(1500);
  parameters["triton_enable_empty_final_response"].set_bool_param(true);
  parameters["sequence_id"].set_int64_param(0);  // ignored, as by the HTTP frontend
  auto decoded = decode_or_throw(message);
  EXPECT_EQ(decoded.priority, 2u);
  EXPECT_EQ(decoded.timeout, std::chrono::microseconds(1500));
  EXPECT_TRUE(decoded.enable_empty_final_response);

  parameters["priority"].set_int64_param(3);  // some clients send int64
  EXPECT_EQ(decode_or_throw(message).priority, 3u);

  parameters["priority"].set_int64_param(-1);
  EXPECT_THAT(decode_failure(message), HasSubstr("parameters.priority must be an integer from 0 to 4294967295"));
  parameters["priority"].set_uint64_param(std::uint64_t{1} << 32);
  EXPECT_THAT(decode_failure(message), HasSubstr("parameters.priority"));
  parameters["priority"].set_uint64_param(1);

  parameters["timeout"].set_string_param("soon");
  EXPECT_THAT(decode_failure(message), HasSubstr("parameters.timeout must be a non-negative integer"));
  parameters["timeout"].set_int64_param(0);

  parameters["triton_enable_empty_final_response"].set_int64_param(1);
  EXPECT_EQ(decode_failure(message), "parameters.triton_enable_empty_final_response must be a bool_param");
}

TEST(grpc_infer_codec, requested_outputs) {
  auto message = make_message();
  message->add_outputs()->set_name("B");
  message->add_outputs()->set_name("A");
  EXPECT_EQ(decode_or_throw(message).outputs, (std::vector<std::string>{"B", "A"}));

  message->add_outputs()->set_name("B");
  EXPECT_EQ(decode_failure(message), "output 'B' is requested twice");

  auto classification = make_message();
  (*classification->add_outputs()->mutable_parameters())["classification"].set_int64_param(3);
  classification->mutable_outputs(0)->set_name("P");
  const auto classified = decode_or_throw(classification);
  EXPECT_EQ(classified.outputs, (std::vector<std::string>{"P"}));
  ASSERT_EQ(classified.classifications.size(), 1u);
  EXPECT_EQ(classified.classifications[0], (std::pair<std::string, std::uint32_t>{"P", 3}));
  (*classification->mutable_outputs(0)->mutable_parameters())["classification"].set_int64_param(0);
  EXPECT_EQ(decode_failure(classification),
            "output 'P': classification must be a positive integer (the number of classes)");

  auto unnamed = make_message();
  unnamed->add_outputs();
  EXPECT_EQ(decode_failure(unnamed), "outputs[0] has no name");
}

// ---- responses ----

tensor owned(std::string name, data_type type, std::vector<std::int64_t> shape, const std::string& bytes) {
  auto t = make_owned_tensor(std::move(name), type, std::move(shape), bytes.size());
  std::memcpy(mutable_data(t), bytes.data(), bytes.size());
  return t;
}

TEST(grpc_infer_codec, response_carries_every_output_raw_in_order) {
  std::vector<tensor> outputs{owned("P", data_type::fp32, {1, 2}, raw_bytes<float>({0.25f, 0.75f})),
                              owned("L", data_type::bytes, {1, 1}, framed({"cat"}))};
  inference::ModelInferResponse response;
  encode_infer_response("iris", 3, "id-1", outputs, {}, response);
  EXPECT_EQ(response.model_name(), "iris");
  EXPECT_EQ(response.model_version(), "3");
  EXPECT_EQ(response.id(), "id-1");
  ASSERT_EQ(response.outputs_size(), 2);
  ASSERT_EQ(response.raw_output_contents_size(), 2);
  EXPECT_EQ(response.outputs(0).name(), "P");
  EXPECT_EQ(response.outputs(0).datatype(), "FP32");
  EXPECT_THAT(response.outputs(0).shape(), ::testing::ElementsAre(1, 2));
  EXPECT_FALSE(response.outputs(0).has_contents());
  EXPECT_EQ(response.raw_output_contents(0), raw_bytes<float>({0.25f, 0.75f}));
  EXPECT_EQ(response.outputs(1).datatype(), "BYTES");
  EXPECT_EQ(response.raw_output_contents(1), framed({"cat"}));

  inference::ModelInferResponse selected;
  encode_infer_response("iris", 3, "", outputs, {"L", "missing", "P"}, selected);
  ASSERT_EQ(selected.outputs_size(), 2);
  EXPECT_EQ(selected.outputs(0).name(), "L");
  EXPECT_EQ(selected.outputs(1).name(), "P");
  EXPECT_EQ(selected.raw_output_contents(1), raw_bytes<float>({0.25f, 0.75f}));
  EXPECT_TRUE(selected.id().empty());
}

TEST(grpc_infer_codec, model_versions) {
  EXPECT_EQ(std::get<std::optional<std::int64_t>>(parse_model_version("")), std::nullopt);
  EXPECT_EQ(std::get<std::optional<std::int64_t>>(parse_model_version("12")), 12);
  for (const auto* bad : {"0", "-1", "v1", "1.5", "99999999999999999999"}) {
    const auto result = parse_model_version(bad);
    ASSERT_TRUE(std::holds_alternative<error>(result)) << bad;
    EXPECT_EQ(std::get<error>(result).message, "model version '" + std::string(bad) + "' is not a positive integer");
  }
}

TEST(grpc_infer_codec, error_codes_map_to_grpc_status_codes) {
  EXPECT_EQ(status_code_for(error_code::invalid_argument), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status_code_for(error_code::not_found), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status_code_for(error_code::unavailable), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status_code_for(error_code::not_ready), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status_code_for(error_code::deadline_exceeded), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(status_code_for(error_code::cancelled), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(status_code_for(error_code::internal), grpc::StatusCode::INTERNAL);
  const auto status = to_status(make_error(error_code::not_found, "unknown model 'x'"));
  EXPECT_EQ(status.error_message(), "unknown model 'x'");
}

}  // namespace
}  // namespace surge::grpc_frontend

namespace surge::grpc_frontend {
namespace {

// Status messages must be short and valid UTF-8 whatever the client sent.
TEST(grpc_infer_codec, client_text_in_messages_is_cut_and_escaped) {
  auto message = make_message();
  add_input(*message, "x", "FP\xff\xfe", {1});
  EXPECT_EQ(decode_failure(message), "input 'x': unknown datatype 'FP\\xff\\xfe'");

  message = make_message();
  add_input(*message, std::string(100000, 'n'), "BAD", {1});
  const auto failure = decode_failure(message);
  EXPECT_THAT(failure, HasSubstr("'" + std::string(128, 'n') + "... (100000 bytes)'"));
  EXPECT_LT(failure.size(), 300u);
}

}  // namespace
}  // namespace surge::grpc_frontend
