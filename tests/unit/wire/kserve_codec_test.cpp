#include "wire/half_float.hpp"
#include "wire/kserve_request.hpp"
#include "wire/kserve_response.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace surge::wire {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const std::string> make_body(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

decoded_infer_request decode_or_throw(std::string body, std::optional<std::size_t> json_length = std::nullopt) {
  auto result = decode_infer_request(make_body(std::move(body)), json_length);
  if (auto* failure = std::get_if<error>(&result)) throw std::runtime_error("decode failed: " + failure->message);
  return std::move(std::get<decoded_infer_request>(result));
}

error decode_failure(std::string body, std::optional<std::size_t> json_length = std::nullopt) {
  auto result = decode_infer_request(make_body(std::move(body)), json_length);
  if (std::holds_alternative<decoded_infer_request>(result)) throw std::runtime_error("decode succeeded unexpectedly");
  auto failure = std::get<error>(std::move(result));
  EXPECT_EQ(failure.code, error_code::invalid_argument);
  return failure;
}

// A JSON header followed by a binary section, as tritonclient sends it.
struct binary_request {
  std::string body;
  std::size_t json_length;
};

binary_request with_binary(const std::string& json, const std::string& binary) { return {json + binary, json.size()}; }

std::string one_input(const std::string& name, const std::string& datatype, const std::string& shape,
                      const std::string& data) {
  return R"({"inputs":[{"name":")" + name + R"(","datatype":")" + datatype + R"(","shape":)" + shape + R"(,"data":)" +
         data + "}]}";
}

std::string one_binary_input(const std::string& name, const std::string& datatype, const std::string& shape,
                             std::size_t size) {
  return R"({"inputs":[{"name":")" + name + R"(","datatype":")" + datatype + R"(","shape":)" + shape +
         R"(,"parameters":{"binary_data_size":)" + std::to_string(size) + "}}]}";
}

std::string bytes_of(const tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data.data()), t.data.size());
}

template <typename T>
std::string raw_bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

template <typename T>
std::vector<T> values_of(const tensor& t) {
  std::vector<T> out(t.data.size() / sizeof(T));
  std::memcpy(out.data(), t.data.data(), out.size() * sizeof(T));
  return out;
}

// Triton's BYTES layout: 4-byte little-endian length, then the bytes.
std::string serialize_bytes(const std::vector<std::string>& elements) {
  std::string out;
  for (const auto& element : elements) {
    const auto length = static_cast<std::uint32_t>(element.size());
    out.append(reinterpret_cast<const char*>(&length), sizeof length);
    out += element;
  }
  return out;
}

tensor owned(std::string name, data_type type, std::vector<std::int64_t> shape, const std::string& bytes) {
  auto t = make_owned_tensor(std::move(name), type, std::move(shape), bytes.size());
  std::memcpy(mutable_data(t), bytes.data(), bytes.size());
  return t;
}

std::string json_part(const encoded_infer_response& response) {
  return response.body.substr(0, response.json_length.value_or(response.body.size()));
}

// The "data" text of a response with one JSON output, which ends the body.
std::string only_output_data(const encoded_infer_response& response) {
  const auto start = response.body.find("\"data\":") + 7;
  return response.body.substr(start, response.body.size() - 3 - start);
}

std::string shape_of(const tensor& t) {
  std::string text = "[";
  for (std::size_t i = 0; i < t.shape.size(); ++i) text += (i ? "," : "") + std::to_string(t.shape[i]);
  return text + "]";
}

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseNanAndInfFlag>(text.data(), text.size());
  if (document.HasParseError()) throw std::runtime_error("response is not JSON: " + text);
  return document;
}

// ---- every datatype ----

struct datatype_case {
  std::string datatype;
  std::string data;      // as a client writes it
  std::string expected;  // as the encoder writes it back
  std::string expected_bytes;
};

std::vector<datatype_case> datatype_cases() {
  return {
      {"BOOL", "[true,false,true]", "[true,false,true]", raw_bytes<std::uint8_t>({1, 0, 1})},
      {"UINT8", "[0,1,255]", "[0,1,255]", raw_bytes<std::uint8_t>({0, 1, 255})},
      {"UINT16", "[0,65535,7]", "[0,65535,7]", raw_bytes<std::uint16_t>({0, 65535, 7})},
      {"UINT32", "[0,4294967295,7]", "[0,4294967295,7]", raw_bytes<std::uint32_t>({0, 4294967295u, 7})},
      {"UINT64", "[0,18446744073709551615,7]", "[0,18446744073709551615,7]",
       raw_bytes<std::uint64_t>({0, std::numeric_limits<std::uint64_t>::max(), 7})},
      {"INT8", "[-128,0,127]", "[-128,0,127]", raw_bytes<std::int8_t>({-128, 0, 127})},
      {"INT16", "[-32768,0,32767]", "[-32768,0,32767]", raw_bytes<std::int16_t>({-32768, 0, 32767})},
      {"INT32", "[-2147483648,0,2147483647]", "[-2147483648,0,2147483647]",
       raw_bytes<std::int32_t>({std::numeric_limits<std::int32_t>::min(), 0, 2147483647})},
      {"INT64", "[-9223372036854775808,3.0,9223372036854775807]", "[-9223372036854775808,3,9223372036854775807]",
       raw_bytes<std::int64_t>(
           {std::numeric_limits<std::int64_t>::min(), 3, std::numeric_limits<std::int64_t>::max()})},
      // 65504 is the largest half; 65500 is the shortest text that reads back as it (numpy prints it so too).
      {"FP16", "[1.0,-2.5,0.1,65504,6e-8]", "[1.0,-2.5,0.1,65500.0,6e-08]",
       raw_bytes<std::uint16_t>({0x3c00, 0xc100, 0x2e66, 0x7bff, 0x0001})},
      {"BF16", "[1,-2.5,0.1,3.140625]", "[1.0,-2.5,0.1,3.14]",
       raw_bytes<std::uint16_t>({0x3f80, 0xc020, 0x3dcd, 0x4049})},
      {"FP32", "[1,-2.5,0.1,3.4028234663852886e38,1e-45,16777216]", "[1.0,-2.5,0.1,3.4028235e+38,1e-45,16777216.0]",
       raw_bytes<float>({1.0f, -2.5f, 0.1f, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                         16777216.0f})},
      {"FP64", "[1,-2.5,0.1,1.7976931348623157e308,5e-324,0.30000000000000004]",
       "[1.0,-2.5,0.1,1.7976931348623157e+308,5e-324,0.30000000000000004]",
       raw_bytes<double>(
           {1.0, -2.5, 0.1, std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(), 0.1 + 0.2})},
      {"BYTES", R"(["hello","","a\"b\\c\n\u0000z","w\u00f6rld"])", R"(["hello","","a\"b\\c\n\u0000z","wörld"])",
       serialize_bytes({"hello", "", std::string("a\"b\\c\n\0z", 8), "wörld"})},
  };
}

TEST(KserveCodec, EveryDatatypeDecodesFromJson) {
  for (const auto& c : datatype_cases()) {
    SCOPED_TRACE(c.datatype);
    const auto count = std::count(c.data.begin(), c.data.end(), ',') + 1;
    const auto request = decode_or_throw(one_input("x", c.datatype, "[" + std::to_string(count) + "]", c.data));
    ASSERT_EQ(request.inputs.size(), 1u);
    const auto& input = request.inputs[0];
    EXPECT_EQ(input.name, "x");
    EXPECT_EQ(kserve_name(input.type), c.datatype);
    EXPECT_EQ(input.shape, std::vector<std::int64_t>{count});
    EXPECT_EQ(bytes_of(input), c.expected_bytes);
  }
}

TEST(KserveCodec, EveryDatatypeEncodesToJsonAndReadsBack) {
  for (const auto& c : datatype_cases()) {
    SCOPED_TRACE(c.datatype);
    const auto count = std::count(c.data.begin(), c.data.end(), ',') + 1;
    const std::string shape = "[" + std::to_string(count) + "]";
    const auto input = decode_or_throw(one_input("x", c.datatype, shape, c.data)).inputs.at(0);

    const auto response = encode_infer_response("m", 1, "", {input}, {}, false);
    EXPECT_FALSE(response.json_length);
    EXPECT_THAT(response.body,
                HasSubstr(R"("datatype":")" + c.datatype + R"(","shape":)" + shape + R"(,"data":)" + c.expected + "}"));

    parse_json(response.body);
    // What the encoder writes, the decoder reads back to the same bytes.
    const auto echoed = decode_or_throw(one_input("x", c.datatype, shape, c.expected)).inputs.at(0);
    EXPECT_EQ(bytes_of(echoed), c.expected_bytes);
  }
}

TEST(KserveCodec, EveryDatatypeRoundTripsThroughBinary) {
  for (const auto& c : datatype_cases()) {
    SCOPED_TRACE(c.datatype);
    const auto count = std::count(c.data.begin(), c.data.end(), ',') + 1;
    const std::string shape = "[" + std::to_string(count) + "]";
    const auto request =
        with_binary(one_binary_input("x", c.datatype, shape, c.expected_bytes.size()), c.expected_bytes);
    auto body = make_body(request.body);
    auto result = decode_infer_request(body, request.json_length);
    ASSERT_TRUE(std::holds_alternative<decoded_infer_request>(result)) << std::get<error>(result).message;
    const auto input = std::get<decoded_infer_request>(result).inputs.at(0);
    EXPECT_EQ(bytes_of(input), c.expected_bytes);
    // A view into the body, not a copy.
    EXPECT_EQ(reinterpret_cast<const char*>(input.data.data()), body->data() + request.json_length);

    const auto response = encode_infer_response("m", 1, "", {input}, {{"x", true}}, false);
    ASSERT_TRUE(response.json_length);
    const auto json = json_part(response);
    EXPECT_EQ(response.body.substr(*response.json_length), c.expected_bytes);
    EXPECT_THAT(json,
                HasSubstr(R"("parameters":{"binary_data_size":)" + std::to_string(c.expected_bytes.size()) + "}"));
    EXPECT_THAT(json, ::testing::Not(HasSubstr("\"data\"")));
    parse_json(json);
  }
}

TEST(KserveCodec, BinaryInputsKeepTheBodyAlive) {
  const auto values = raw_bytes<float>({1.0f, 2.0f});
  const auto request = with_binary(one_binary_input("x", "FP32", "[2]", values.size()), values);
  auto body = make_body(request.body);
  const std::weak_ptr<const std::string> watch = body;
  {
    auto result = decode_infer_request(body, request.json_length);
    body.reset();
    EXPECT_FALSE(watch.expired());
    const auto& input = std::get<decoded_infer_request>(result).inputs.at(0);
    EXPECT_EQ(values_of<float>(input), (std::vector<float>{1.0f, 2.0f}));
  }
  EXPECT_TRUE(watch.expired());
}

TEST(KserveCodec, NestedDataIsFlattenedRowMajor) {
  const auto request = decode_or_throw(one_input("x", "INT32", "[2,3]", "[[1,2,3],[4,5,6]]"));
  EXPECT_EQ(values_of<std::int32_t>(request.inputs[0]), (std::vector<std::int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(request.inputs[0].shape, (std::vector<std::int64_t>{2, 3}));

  const auto deeper = decode_or_throw(one_input("y", "FP32", "[2,1,2]", "[[[1.5,2]],[[3,4]]]"));
  EXPECT_EQ(values_of<float>(deeper.inputs[0]), (std::vector<float>{1.5f, 2.0f, 3.0f, 4.0f}));

  const auto bytes = decode_or_throw(one_input("z", "BYTES", "[2,1]", R"([["a"],["bc"]])"));
  EXPECT_EQ(bytes_of(bytes.inputs[0]), serialize_bytes({"a", "bc"}));
}

TEST(KserveCodec, ScalarAndEmptyShapes) {
  const auto scalar = decode_or_throw(one_input("s", "INT64", "[]", "[42]"));
  EXPECT_TRUE(scalar.inputs[0].shape.empty());
  EXPECT_EQ(values_of<std::int64_t>(scalar.inputs[0]), std::vector<std::int64_t>{42});

  const auto empty = decode_or_throw(one_input("e", "FP32", "[0,3]", "[]"));
  EXPECT_EQ(empty.inputs[0].data.size(), 0u);
  const auto response = encode_infer_response("m", 1, "", empty.inputs, {}, false);
  EXPECT_THAT(response.body, HasSubstr(R"("shape":[0,3],"data":[])"));
}

TEST(KserveCodec, BytesInBinaryBothWays) {
  const auto elements = serialize_bytes({"first", "", std::string("\0\xff", 2)});
  const auto request = with_binary(one_binary_input("text", "BYTES", "[3]", elements.size()), elements);
  const auto decoded = decode_or_throw(request.body, request.json_length);
  EXPECT_EQ(bytes_of(decoded.inputs[0]), elements);

  const auto binary = encode_infer_response("m", 1, "", decoded.inputs, {{"text", true}}, false);
  EXPECT_EQ(binary.body.substr(*binary.json_length), elements);

  const auto json = encode_infer_response("m", 1, "", decoded.inputs, {{"text", false}}, false);
  EXPECT_THAT(json.body, HasSubstr(R"("data":["first","","\u0000)"));
}

TEST(KserveCodec, NonFiniteFloatsBothWays) {
  const auto request = decode_or_throw(one_input("x", "FP32", "[3]", "[NaN,Infinity,-Infinity]"));
  const auto values = values_of<float>(request.inputs[0]);
  EXPECT_TRUE(std::isnan(values[0]));
  EXPECT_EQ(values[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(values[2], -std::numeric_limits<float>::infinity());
  const auto response = encode_infer_response("m", 1, "", request.inputs, {}, false);
  EXPECT_THAT(response.body, HasSubstr(R"("data":[NaN,Infinity,-Infinity])"));

  const auto half = decode_or_throw(one_input("h", "FP16", "[3]", "[NaN,Infinity,-Infinity]"));
  EXPECT_EQ(values_of<std::uint16_t>(half.inputs[0])[1], 0x7c00);
  EXPECT_THAT(encode_infer_response("m", 1, "", half.inputs, {}, false).body,
              HasSubstr(R"("data":[NaN,Infinity,-Infinity])"));
}

TEST(KserveCodec, EveryHalfAndBfloatValueRoundTripsThroughJson) {
  for (const auto type : {data_type::fp16, data_type::bf16}) {
    SCOPED_TRACE(std::string(kserve_name(type)));
    const auto exponent_mask = type == data_type::fp16 ? 0x7c00u : 0x7f80u;
    std::vector<std::uint16_t> bits;
    for (std::uint32_t b = 0; b <= 0xffff; ++b) {
      const bool nan = (b & exponent_mask) == exponent_mask && (b & ~exponent_mask & 0x7fffu) != 0;
      if (!nan) bits.push_back(static_cast<std::uint16_t>(b));
    }
    const auto output = owned("x", type, {static_cast<std::int64_t>(bits.size())}, raw_bytes(bits));
    const auto data = only_output_data(encode_infer_response("m", 1, "", {output}, {}, false));
    const auto decoded =
        decode_or_throw(one_input("x", std::string(kserve_name(type)), "[" + std::to_string(bits.size()) + "]", data));
    EXPECT_EQ(values_of<std::uint16_t>(decoded.inputs[0]), bits);
  }
}

TEST(KserveCodec, FloatBitPatternsRoundTripThroughJson) {
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::vector<float> floats;
  std::vector<double> doubles;
  while (floats.size() < 20000) {
    const auto f = std::bit_cast<float>(static_cast<std::uint32_t>(next()));
    if (!std::isnan(f)) floats.push_back(f);
    const auto d = std::bit_cast<double>(next());
    if (!std::isnan(d)) doubles.push_back(d);
  }
  auto round_trip = [](const tensor& output) {
    const auto data = only_output_data(encode_infer_response("m", 1, "", {output}, {}, false));
    return bytes_of(
        decode_or_throw(one_input("x", std::string(kserve_name(output.type)), shape_of(output), data)).inputs.at(0));
  };
  const auto fp32 = raw_bytes(floats);
  EXPECT_EQ(round_trip(owned("x", data_type::fp32, {static_cast<std::int64_t>(floats.size())}, fp32)), fp32);
  const auto fp64 = raw_bytes(doubles);
  EXPECT_EQ(round_trip(owned("x", data_type::fp64, {static_cast<std::int64_t>(doubles.size())}, fp64)), fp64);
}

// ---- 16-bit float conversion ----

TEST(KserveCodec, Fp16KnownValues) {
  EXPECT_EQ(fp16_from_double(1.0), 0x3c00);
  EXPECT_EQ(fp16_from_double(-2.0), 0xc000);
  EXPECT_EQ(fp16_from_double(0.5), 0x3800);
  EXPECT_EQ(fp16_from_double(0.1), 0x2e66);
  EXPECT_EQ(fp16_from_double(1.0 / 3.0), 0x3555);
  EXPECT_EQ(fp16_from_double(65504.0), 0x7bff);
  EXPECT_EQ(fp16_from_double(65519.0), 0x7bff);               // below the midpoint to 65536
  EXPECT_EQ(fp16_from_double(65520.0), 0x7c00);               // the midpoint rounds to even: infinity
  EXPECT_EQ(fp16_from_double(std::ldexp(1.0, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(fp16_from_double(std::ldexp(1.0, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(fp16_from_double(std::ldexp(1.0, -25)), 0x0000);  // tie: to even, zero
  EXPECT_EQ(fp16_from_double(std::ldexp(3.0, -25)), 0x0002);  // tie: to even, two
  EXPECT_EQ(fp16_from_double(std::ldexp(1.0, -25) * 1.000001), 0x0001);
  EXPECT_EQ(fp16_from_double(std::ldexp(1023.5, -24)), 0x0400);  // largest subnormal carries into normal
  EXPECT_EQ(fp16_from_double(2049.0), 0x6800);                   // tie between 2048 and 2050: 2048
  EXPECT_EQ(fp16_from_double(2051.0), 0x6802);                   // tie between 2050 and 2052: 2052
  EXPECT_EQ(fp16_from_double(1e-10), 0x0000);
  EXPECT_EQ(fp16_from_double(-0.0), 0x8000);
  EXPECT_EQ(fp16_from_double(std::numeric_limits<double>::infinity()), 0x7c00);
  const auto nan = fp16_from_double(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);

  EXPECT_EQ(fp16_to_double(0x3c00), 1.0);
  EXPECT_EQ(fp16_to_double(0x7bff), 65504.0);
  EXPECT_EQ(fp16_to_double(0x0001), std::ldexp(1.0, -24));
  EXPECT_EQ(fp16_to_double(0xc000), -2.0);
  EXPECT_EQ(fp16_to_double(0xfc00), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_double(0x7e00)));
}

TEST(KserveCodec, Bf16KnownValuesAndAgreementWithFloatRounding) {
  EXPECT_EQ(bf16_from_double(1.0), 0x3f80);
  EXPECT_EQ(bf16_from_double(-2.0), 0xc000);
  EXPECT_EQ(bf16_from_double(3.140625), 0x4049);
  EXPECT_EQ(bf16_from_double(0.1), 0x3dcd);
  EXPECT_EQ(bf16_from_double(3.4e38), 0x7f80);
  EXPECT_EQ(bf16_to_double(0x3dcd), 0.10009765625);

  // For values that are floats, bfloat16 is the float's top half rounded to
  // nearest even, the way every ML framework computes it.
  std::uint32_t state = 12345;
  for (int i = 0; i < 100000; ++i) {
    state = state * 1664525u + 1013904223u;
    const auto f = std::bit_cast<float>(state);
    if (std::isnan(f)) continue;
    const auto expected = static_cast<std::uint16_t>((state + 0x7fffu + ((state >> 16) & 1u)) >> 16);
    ASSERT_EQ(bf16_from_double(f), expected) << f;
  }
}

TEST(KserveCodec, EveryHalfValueConvertsBackToItself) {
  for (std::uint32_t b = 0; b <= 0xffff; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    if ((bits & 0x7c00) != 0x7c00 || (bits & 0x03ff) == 0) {
      ASSERT_EQ(fp16_from_double(fp16_to_double(bits)), bits) << b;
    }
    if ((bits & 0x7f80) != 0x7f80 || (bits & 0x007f) == 0) {
      ASSERT_EQ(bf16_from_double(bf16_to_double(bits)), bits) << b;
    }
  }
}

// ---- requested outputs and the response ----

TEST(KserveCodec, RequestedOutputsAndBinaryDefault) {
  const auto request = decode_or_throw(R"({
    "inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [1]}],
    "parameters": {"binary_data_output": true},
    "outputs": [{"name": "a"}, {"name": "b", "parameters": {"binary_data": false}},
                {"name": "c", "parameters": {"binary_data": true}}]})");
  EXPECT_TRUE(request.binary_outputs_default);
  ASSERT_EQ(request.outputs.size(), 3u);
  EXPECT_EQ(request.outputs[0].name, "a");
  EXPECT_TRUE(request.outputs[0].binary);  // from binary_data_output
  EXPECT_FALSE(request.outputs[1].binary);
  EXPECT_TRUE(request.outputs[2].binary);

  const auto plain = decode_or_throw(one_input("x", "INT32", "[1]", "[1]"));
  EXPECT_FALSE(plain.binary_outputs_default);
  EXPECT_TRUE(plain.outputs.empty());
  EXPECT_TRUE(plain.id.empty());
  EXPECT_FALSE(plain.priority);
  EXPECT_FALSE(plain.timeout);
}

TEST(KserveCodec, ResponseFollowsRequestedOrderAndSkipsTheRest) {
  const std::vector<tensor> outputs{owned("a", data_type::int32, {2}, raw_bytes<std::int32_t>({1, 2})),
                                    owned("b", data_type::fp32, {1}, raw_bytes<float>({0.5f})),
                                    owned("c", data_type::uint8, {3}, raw_bytes<std::uint8_t>({7, 8, 9}))};
  const auto response = encode_infer_response("model", 3, "req-1", outputs, {{"c", true}, {"a", false}}, false);
  ASSERT_TRUE(response.json_length);
  EXPECT_EQ(json_part(response), R"({"model_name":"model","model_version":"3","id":"req-1","outputs":[)"
                                 R"({"name":"c","datatype":"UINT8","shape":[3],"parameters":{"binary_data_size":3}},)"
                                 R"({"name":"a","datatype":"INT32","shape":[2],"data":[1,2]}]})");
  EXPECT_EQ(response.body.substr(*response.json_length), std::string("\x07\x08\x09"));
}

TEST(KserveCodec, ResponseWithNoRequestedOutputsUsesTheDefault) {
  const std::vector<tensor> outputs{owned("a", data_type::int16, {2}, raw_bytes<std::int16_t>({-1, 2})),
                                    owned("b", data_type::bool_, {1}, raw_bytes<std::uint8_t>({1}))};
  const auto json = encode_infer_response("m", 1, "", outputs, {}, false);
  EXPECT_FALSE(json.json_length);
  EXPECT_EQ(json.body, R"({"model_name":"m","model_version":"1","outputs":[)"
                       R"({"name":"a","datatype":"INT16","shape":[2],"data":[-1,2]},)"
                       R"({"name":"b","datatype":"BOOL","shape":[1],"data":[true]}]})");

  const auto binary = encode_infer_response("m", 1, "", outputs, {}, true);
  ASSERT_TRUE(binary.json_length);
  EXPECT_EQ(binary.body.substr(*binary.json_length), raw_bytes<std::int16_t>({-1, 2}) + std::string("\x01"));
  const auto document = parse_json(json_part(binary));
  EXPECT_EQ(document["outputs"][0]["parameters"]["binary_data_size"].GetUint64(), 4u);
  EXPECT_EQ(document["outputs"][1]["parameters"]["binary_data_size"].GetUint64(), 1u);
}

TEST(KserveCodec, ResponseEscapesNamesAndIds) {
  const std::vector<tensor> outputs{owned("o\"1", data_type::uint8, {1}, std::string("\x05"))};
  const auto response = encode_infer_response("m\\x", 1, "id\n", outputs, {}, false);
  const auto document = parse_json(response.body);
  EXPECT_STREQ(document["model_name"].GetString(), "m\\x");
  EXPECT_STREQ(document["id"].GetString(), "id\n");
  EXPECT_STREQ(document["outputs"][0]["name"].GetString(), "o\"1");
}

TEST(KserveCodec, ErrorBodyIsEscapedJson) {
  EXPECT_EQ(encode_error("plain"), R"({"error":"plain"})");
  const auto body = encode_error("input 'x': \"quoted\"\n\tand \\ back\x01");
  EXPECT_EQ(body, R"({"error":"input 'x': \"quoted\"\n\tand \\ back\u0001"})");
  EXPECT_STREQ(parse_json(body)["error"].GetString(), "input 'x': \"quoted\"\n\tand \\ back\x01");
}

TEST(KserveCodec, IdPriorityAndTimeout) {
  const auto request = decode_or_throw(R"({"id": "abc", "parameters": {"priority": 2, "timeout": 5000},
                                           "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]})");
  EXPECT_EQ(request.id, "abc");
  EXPECT_EQ(request.priority, 2u);
  EXPECT_EQ(request.timeout, std::chrono::microseconds(5000));
}

// ---- request bodies as tritonclient builds them ----

// tritonclient.http: json.dumps with its default ", " and ": " separators,
// binary inputs by default, and binary_data_output when no outputs are named.
TEST(KserveCodec, TritonclientBinaryRequest) {
  std::vector<std::int32_t> input0(16), input1(16);
  for (int i = 0; i < 16; ++i) {
    input0[i] = i;
    input1[i] = 1;
  }
  const std::string json =
      R"({"inputs": [{"name": "INPUT0", "shape": [1, 16], "datatype": "INT32", )"
      R"("parameters": {"binary_data_size": 64}}, )"
      R"({"name": "INPUT1", "shape": [1, 16], "datatype": "INT32", "parameters": {"binary_data_size": 64}}], )"
      R"("outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": true}}, )"
      R"({"name": "OUTPUT1", "parameters": {"binary_data": false}}]})";
  const auto request = with_binary(json, raw_bytes(input0) + raw_bytes(input1));
  const auto decoded = decode_or_throw(request.body, request.json_length);
  ASSERT_EQ(decoded.inputs.size(), 2u);
  EXPECT_EQ(values_of<std::int32_t>(decoded.inputs[0]), input0);
  EXPECT_EQ(values_of<std::int32_t>(decoded.inputs[1]), input1);
  EXPECT_EQ(decoded.inputs[1].shape, (std::vector<std::int64_t>{1, 16}));
  ASSERT_EQ(decoded.outputs.size(), 2u);
  EXPECT_TRUE(decoded.outputs[0].binary);
  EXPECT_FALSE(decoded.outputs[1].binary);

  // The answer tritonclient's InferResult reads: JSON, then OUTPUT0's bytes.
  std::vector<std::int32_t> sum(16), difference(16);
  for (int i = 0; i < 16; ++i) {
    sum[i] = input0[i] + input1[i];
    difference[i] = input0[i] - input1[i];
  }
  const std::vector<tensor> outputs{owned("OUTPUT0", data_type::int32, {1, 16}, raw_bytes(sum)),
                                    owned("OUTPUT1", data_type::int32, {1, 16}, raw_bytes(difference))};
  const auto response = encode_infer_response("simple", 1, decoded.id, outputs, decoded.outputs, false);
  ASSERT_TRUE(response.json_length);
  EXPECT_EQ(response.body.substr(*response.json_length), raw_bytes(sum));
  const auto document = parse_json(json_part(response));
  EXPECT_EQ(document["outputs"][0]["parameters"]["binary_data_size"].GetUint64(), 64u);
  EXPECT_EQ(document["outputs"][1]["data"].Size(), 16u);
  EXPECT_EQ(document["outputs"][1]["data"][0].GetInt(), -1);
}

TEST(KserveCodec, TritonclientRequestWithoutNamedOutputs) {
  const auto strings = serialize_bytes({"dog", "cat"});
  const std::string json =
      R"({"id": "7", "inputs": [{"name": "INPUT0", "shape": [2], "datatype": "BYTES", "parameters": )"
      R"({"binary_data_size": )" +
      std::to_string(strings.size()) + R"(}}], "parameters": {"binary_data_output": true}})";
  const auto request = with_binary(json, strings);
  const auto decoded = decode_or_throw(request.body, request.json_length);
  EXPECT_EQ(decoded.id, "7");
  EXPECT_TRUE(decoded.binary_outputs_default);
  EXPECT_TRUE(decoded.outputs.empty());
  EXPECT_EQ(bytes_of(decoded.inputs[0]), strings);
}

TEST(KserveCodec, TritonclientJsonRequest) {
  const auto decoded = decode_or_throw(
      R"({"inputs": [{"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": [1.0, 2.5, -3.0, 0.25]}], )"
      R"("outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": false}}]})");
  EXPECT_EQ(values_of<float>(decoded.inputs[0]), (std::vector<float>{1.0f, 2.5f, -3.0f, 0.25f}));
  EXPECT_FALSE(decoded.outputs[0].binary);
}

// ---- malformed requests ----

TEST(KserveCodecErrors, MalformedJson) {
  const auto failure = decode_failure(R"({"inputs": [)");
  EXPECT_THAT(failure.message, HasSubstr("malformed JSON at offset 12"));
  EXPECT_THAT(decode_failure("").message, HasSubstr("malformed JSON at offset 0"));
  EXPECT_THAT(decode_failure("[]").message, HasSubstr("must be a JSON object"));
  // Deep nesting is an ordinary error, not a stack overflow.
  EXPECT_THAT(decode_failure(std::string(1000000, '[')).message, HasSubstr("malformed JSON"));
  const auto deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_EQ(
      decode_or_throw(R"({"ignored":)" + deep + "," + one_input("x", "INT8", "[1]", "[1]").substr(1)).inputs.size(),
      1u);
}

TEST(KserveCodecErrors, MissingFields) {
  EXPECT_EQ(decode_failure("{}").message, "the request has no \"inputs\"");
  EXPECT_THAT(decode_failure(R"({"inputs": {}})").message, HasSubstr("\"inputs\" must be an array"));
  EXPECT_EQ(decode_failure(R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})").message,
            "inputs[0] has no \"name\"");
  EXPECT_EQ(decode_failure(R"({"inputs":[{"name":"x","shape":[1],"data":[1]}]})").message,
            "input 'x': missing \"datatype\"");
  EXPECT_EQ(decode_failure(R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})").message,
            "input 'x': missing \"shape\"");
  EXPECT_THAT(decode_failure(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})").message,
              HasSubstr("input 'x': missing \"data\""));
}

TEST(KserveCodecErrors, BadDatatypeAndShape) {
  EXPECT_EQ(decode_failure(one_input("x", "FP8", "[1]", "[1]")).message, "input 'x': unknown datatype 'FP8'");
  EXPECT_EQ(decode_failure(one_input("x", "FP32", "[2,-1]", "[1]")).message,
            "input 'x': shape [2,-1] has a negative dimension");
  EXPECT_THAT(decode_failure(one_input("x", "FP32", "[1.5]", "[1]")).message,
              HasSubstr("input 'x': \"shape\" must hold integers, dimension 0 is 1.5"));
  EXPECT_THAT(decode_failure(one_input("x", "FP32", "3", "[1]")).message,
              HasSubstr("input 'x': \"shape\" must be an array"));
  EXPECT_THAT(decode_failure(one_input("x", "FP32", "[4294967296,4294967296]", "[1]")).message,
              HasSubstr("input 'x': shape [4294967296,4294967296] has too many elements"));
}

TEST(KserveCodecErrors, ElementCountMismatch) {
  EXPECT_EQ(decode_failure(one_input("x", "FP32", "[2,3]", "[1,2,3,4,5]")).message,
            "input 'x': shape [2,3] needs 6 elements, data has 5");
  EXPECT_EQ(decode_failure(one_input("x", "INT8", "[2]", "[[1],[2],[3]]")).message,
            "input 'x': shape [2] needs 2 elements, data has 3");
  EXPECT_EQ(decode_failure(one_input("x", "BYTES", "[1]", "[]")).message,
            "input 'x': shape [1] needs 1 elements, data has 0");
  EXPECT_THAT(decode_failure(one_input("x", "FP32", "[1]", "1")).message,
              HasSubstr("input 'x': \"data\" must be an array"));
  EXPECT_THAT(decode_failure(one_input("x", "FP32", "[1]", std::string(40, '[') + "1" + std::string(40, ']'))).message,
              HasSubstr("input 'x': \"data\" nests arrays deeper than 32"));
}

TEST(KserveCodecErrors, ElementValues) {
  EXPECT_EQ(decode_failure(one_input("u", "UINT8", "[3]", "[1,300,2]")).message,
            "input 'u': data element 1 (300) is out of range for UINT8");
  EXPECT_EQ(decode_failure(one_input("i", "INT8", "[1]", "[-129]")).message,
            "input 'i': data element 0 (-129) is out of range for INT8");
  EXPECT_EQ(decode_failure(one_input("n", "UINT32", "[2]", "[[0],[-1]]")).message,
            "input 'n': data element 1 (-1) is out of range for UINT32");
  EXPECT_EQ(decode_failure(one_input("l", "INT64", "[1]", "[9223372036854775808]")).message,
            "input 'l': data element 0 (9223372036854775808) is out of range for INT64");
  EXPECT_EQ(decode_failure(one_input("b", "UINT64", "[1]", "[1e20]")).message,
            "input 'b': data element 0 (1e+20) is out of range for UINT64");
  EXPECT_EQ(decode_failure(one_input("f", "INT32", "[2]", "[1,1.5]")).message,
            "input 'f': data element 1 (1.5) is not an integer, as INT32 requires");
  EXPECT_EQ(decode_failure(one_input("s", "FP32", "[1]", R"(["a"])")).message,
            "input 's': data element 0 must be a number for FP32, got a string");
  EXPECT_EQ(decode_failure(one_input("t", "INT32", "[1]", "[true]")).message,
            "input 't': data element 0 must be a number for INT32, got a boolean");
  EXPECT_EQ(decode_failure(one_input("q", "BOOL", "[2]", "[true,1]")).message,
            "input 'q': data element 1 must be true or false for BOOL, got a number");
  EXPECT_EQ(decode_failure(one_input("w", "BYTES", "[2]", R"(["a",5])")).message,
            "input 'w': data element 1 must be a string for BYTES, got a number");
  EXPECT_EQ(decode_failure(one_input("h", "FP16", "[1]", "[65520]")).message,
            "input 'h': data element 0 (65520) is out of range for FP16");
  EXPECT_EQ(decode_failure(one_input("g", "FP32", "[1]", "[1e39]")).message,
            "input 'g': data element 0 (1e+39) is out of range for FP32");
  // Just past FLT_MAX still rounds to it; the halfway point to 2^128 does not.
  EXPECT_EQ(values_of<float>(decode_or_throw(one_input("g", "FP32", "[1]", "[3.40282356e38]")).inputs[0])[0],
            std::numeric_limits<float>::max());
  EXPECT_THAT(decode_failure(one_input("g", "FP32", "[1]", "[3.4028235677973366e38]")).message,
              HasSubstr("out of range for FP32"));
  EXPECT_EQ(decode_failure(one_input("z", "FP64", "[1]", "[null]")).message,
            "input 'z': data element 0 must be a number for FP64, got null");
}

TEST(KserveCodecErrors, BinarySizes) {
  const auto bytes = raw_bytes<float>({1, 2, 3, 4, 5});
  {
    const auto request = with_binary(one_binary_input("x", "FP32", "[2,3]", 20), bytes);
    EXPECT_EQ(decode_failure(request.body, request.json_length).message,
              "input 'x': binary_data_size 20 does not match shape [2,3] of FP32, which needs 24 bytes");
  }
  {  // shorter than the binary_data_size values
    const auto request = with_binary(one_binary_input("x", "FP32", "[6]", 24), bytes);
    EXPECT_EQ(decode_failure(request.body, request.json_length).message,
              "input 'x': binary_data_size 24 runs past the end of the binary section (20 bytes left)");
  }
  {  // longer
    const auto request = with_binary(one_binary_input("x", "FP32", "[4]", 16), bytes);
    EXPECT_EQ(decode_failure(request.body, request.json_length).message,
              "the binary section holds 20 bytes but the inputs' binary_data_size values add up to 16");
  }
  {  // no header: everything is JSON, so there is no binary section at all
    const auto json = one_binary_input("x", "FP32", "[1]", 4);
    EXPECT_THAT(decode_failure(json).message,
                HasSubstr("input 'x': binary_data_size is 4 but the request has no Inference-Header-Content-Length"));
  }
  {
    const auto request = with_binary(one_binary_input("x", "FP32", "[5]", 20), bytes);
    EXPECT_EQ(decode_failure(request.body, request.body.size() + 1).message,
              "Inference-Header-Content-Length " + std::to_string(request.body.size() + 1) + " is larger than the " +
                  std::to_string(request.body.size()) + "-byte body");
    // A header length that cuts the JSON short is malformed JSON.
    EXPECT_THAT(decode_failure(request.body, request.json_length - 1).message, HasSubstr("malformed JSON"));
  }
  {
    const auto json = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1],)"
                      R"("parameters":{"binary_data_size":4}}]})";
    const auto request = with_binary(json, raw_bytes<float>({1}));
    EXPECT_THAT(decode_failure(request.body, request.json_length).message,
                HasSubstr("input 'x': has both \"data\" and binary_data_size"));
  }
  {
    const auto json = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":-4}}]})";
    EXPECT_EQ(decode_failure(json).message, "input 'x': binary_data_size must be a non-negative integer");
  }
}

TEST(KserveCodecErrors, MalformedBytesLengthPrefixes) {
  {
    const auto data = serialize_bytes({"ab"}) + std::string("\x01\x00", 2);
    const auto request = with_binary(one_binary_input("s", "BYTES", "[2]", data.size()), data);
    EXPECT_EQ(decode_failure(request.body, request.json_length).message,
              "input 's': BYTES element 1 has a cut-off length prefix: 2 of 4 bytes");
  }
  {
    const auto data = std::string("\x09\x00\x00\x00", 4) + "abc";
    const auto request = with_binary(one_binary_input("s", "BYTES", "[1]", data.size()), data);
    EXPECT_EQ(decode_failure(request.body, request.json_length).message,
              "input 's': BYTES element 0 has length 9 but only 3 bytes of binary_data_size remain");
  }
  {
    const auto data = serialize_bytes({"a", "b", "c"});
    const auto request = with_binary(one_binary_input("s", "BYTES", "[2]", data.size()), data);
    EXPECT_EQ(decode_failure(request.body, request.json_length).message,
              "input 's': binary BYTES data holds 3 elements, the shape needs 2");
  }
}

TEST(KserveCodecErrors, DuplicatesParametersAndOutputs) {
  EXPECT_EQ(decode_failure(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]},)"
                           R"({"name":"x","datatype":"INT8","shape":[1],"data":[2]}]})")
                .message,
            "input 'x' appears twice");
  const std::string inputs = R"("inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}])";
  EXPECT_THAT(decode_failure("{" + inputs + R"(,"parameters":{"priority":"high"}})").message,
              HasSubstr("parameters.priority must be an integer"));
  EXPECT_THAT(decode_failure("{" + inputs + R"(,"parameters":{"priority":4294967296}})").message,
              HasSubstr("parameters.priority must be an integer"));
  EXPECT_THAT(decode_failure("{" + inputs + R"(,"parameters":{"timeout":-1}})").message,
              HasSubstr("parameters.timeout must be a non-negative integer"));
  EXPECT_THAT(decode_failure("{" + inputs + R"(,"parameters":{"binary_data_output":"yes"}})").message,
              HasSubstr("parameters.binary_data_output must be a boolean"));
  EXPECT_THAT(decode_failure("{" + inputs + R"(,"id":5})").message, HasSubstr("\"id\" must be a string"));
  EXPECT_EQ(decode_failure("{" + inputs + R"(,"outputs":[{"name":"y","parameters":{"binary_data":"true"}}]})").message,
            "output 'y': binary_data must be a boolean");
  EXPECT_EQ(decode_failure("{" + inputs + R"(,"outputs":[{"name":"y"},{"name":"y"}]})").message,
            "output 'y' is requested twice");
  EXPECT_EQ(decode_or_throw("{" + inputs + R"(,"outputs":[{"name":"y","parameters":{"classification":3}}]})")
                .outputs.at(0)
                .classification,
            3u);
  EXPECT_EQ(decode_failure("{" + inputs + R"(,"outputs":[{"name":"y","parameters":{"classification":0}}]})").message,
            "output 'y': classification must be a positive integer (the number of classes)");
  EXPECT_EQ(decode_failure("{" + inputs + R"(,"outputs":[{"parameters":{}}]})").message, "outputs[0] has no \"name\"");
  EXPECT_EQ(decode_failure(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],)"
                           R"("parameters":{"shared_memory_region":"r"}}]})")
                .message,
            "input 'x': names a shared_memory_region but no shared_memory_byte_size");
  EXPECT_EQ(decode_failure(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],)"
                           R"("parameters":{"shared_memory_region":"r","shared_memory_byte_size":1},"data":[1]}]})")
                .message,
            "input 'x': names a shared_memory_region and also carries data; send one");
}

TEST(KserveCodec, SharedMemoryTensorsAreDecodedAsRegions) {
  const auto decoded = decode_or_throw(
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"parameters":{"shared_memory_region":"in",)"
      R"("shared_memory_byte_size":16,"shared_memory_offset":32}}],"outputs":[{"name":"y","parameters":)"
      R"({"shared_memory_region":"out","shared_memory_byte_size":64}}]})");
  ASSERT_EQ(decoded.inputs.size(), 1u);
  EXPECT_TRUE(decoded.inputs[0].data.empty());
  ASSERT_EQ(decoded.shared_memory_inputs.size(), 1u);
  EXPECT_EQ(decoded.shared_memory_inputs[0].first, 0u);
  EXPECT_EQ(decoded.shared_memory_inputs[0].second.region, "in");
  EXPECT_EQ(decoded.shared_memory_inputs[0].second.offset, 32u);
  EXPECT_EQ(decoded.shared_memory_inputs[0].second.byte_size, 16u);
  ASSERT_TRUE(decoded.outputs.at(0).shared_memory);
  EXPECT_EQ(decoded.outputs[0].shared_memory->region, "out");
  EXPECT_EQ(decoded.outputs[0].shared_memory->byte_size, 64u);
}

// RapidJSON 1.1.0 read past its table of powers of ten for numbers whose
// leading zeros and exponent put them below 1e-324 (found by fuzzing); the
// project's copy of its headers (scripts/install-deps) underflows them to 0.
TEST(KserveCodec, NumbersFarBelowTheSmallestDoubleReadAsZero) {
  const auto request = decode_or_throw(one_input(
      "x", "FP64", "[3]", "[-0.0000000000000000000001844674607370955e-328, 5e-328, 0.00000000000000000018446744073709551615]"));
  ASSERT_EQ(request.inputs.size(), 1u);
  double values[3];
  std::memcpy(values, request.inputs[0].data.data(), sizeof values);
  EXPECT_EQ(values[0], 0.0);
  EXPECT_EQ(values[1], 0.0);
  EXPECT_EQ(values[2], 0.00000000000000000018446744073709551615);
}

}  // namespace
}  // namespace surge::wire
