// The upstream instance's pure parts: its URL and the JSON rows protocol.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "upstream/json_rows.hpp"
#include "upstream/upstream_url.hpp"

namespace surge::upstream {
namespace {

using ::testing::HasSubstr;

TEST(UpstreamUrl, ParsesHostPortAndTarget) {
  auto url = std::get<http_url>(parse_http_url("http://10.0.0.2:8000/v2/models/x/infer?a=1"));
  EXPECT_EQ(url.host, "10.0.0.2");
  EXPECT_EQ(url.port, "8000");
  EXPECT_EQ(url.target, "/v2/models/x/infer?a=1");
  EXPECT_EQ(url.host_header, "10.0.0.2:8000");
  auto bare = std::get<http_url>(parse_http_url("http://api.local"));
  EXPECT_EQ(bare.port, "80");
  EXPECT_EQ(bare.target, "/");
  auto v6 = std::get<http_url>(parse_http_url("http://[::1]:81/p"));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, "81");
}

TEST(UpstreamUrl, RejectsWhatItCannotReach) {
  const auto problem = [](std::string_view url) { return std::get<error>(parse_http_url(url)).message; };
  EXPECT_THAT(problem("https://h/x"), HasSubstr("must start with http://"));
  EXPECT_THAT(problem("http:///x"), HasSubstr("no host"));
  EXPECT_THAT(problem("http://h:0/x"), HasSubstr("port '0'"));
  EXPECT_THAT(problem("http://h:x/x"), HasSubstr("port 'x'"));
}

tensor fp32(std::vector<std::int64_t> shape, std::vector<float> values) {
  auto t = make_owned_tensor("INPUT0", data_type::fp32, std::move(shape), values.size() * 4);
  std::memcpy(mutable_data(t), values.data(), values.size() * 4);
  return t;
}

TEST(JsonRows, EncodesOneRowPerBatchRow) {
  EXPECT_EQ(encode_json_rows(fp32({2, 3}, {1, 2.5f, -3, 0.1f, 0, 6})),
            R"({"inputs":[[1,2.5,-3],[0.1,0,6]]})");
  EXPECT_EQ(encode_json_rows(fp32({2, 2, 1}, {1, 2, 3, 4})), R"({"inputs":[[[1],[2]],[[3],[4]]]})");
  auto flags = make_owned_tensor("b", data_type::bool_, {2}, 2);
  mutable_data(flags)[0] = std::byte{1};
  mutable_data(flags)[1] = std::byte{0};
  EXPECT_EQ(encode_json_rows(flags), R"({"inputs":[true,false]})");
}

TEST(JsonRows, DecodesRowsWithTheirShape) {
  auto decoded = decode_json_rows(R"({"outputs":[[1,2],[3,4],[5,6]]})", "OUTPUT0", data_type::fp32, 3);
  ASSERT_TRUE(std::holds_alternative<tensor>(decoded)) << std::get<error>(decoded).message;
  const auto& t = std::get<tensor>(decoded);
  EXPECT_EQ(t.name, "OUTPUT0");
  EXPECT_EQ(t.shape, (std::vector<std::int64_t>{3, 2}));
  float values[6];
  std::memcpy(values, t.data.data(), sizeof values);
  EXPECT_EQ(values[5], 6.0f);
}

TEST(JsonRows, NamesWhatIsWrongWithAnAnswer) {
  const auto problem = [](std::string_view body, std::int64_t rows) {
    auto decoded = decode_json_rows(body, "y", data_type::int32, rows);
    return std::holds_alternative<error>(decoded) ? std::get<error>(decoded).message : std::string("decoded");
  };
  EXPECT_THAT(problem("[", 1), HasSubstr("malformed JSON"));
  EXPECT_THAT(problem(R"({"rows":[]})", 1), HasSubstr("\"outputs\" array"));
  EXPECT_THAT(problem(R"({"outputs":[[1],[2]]})", 3), HasSubstr("2 rows for 3 input rows"));
  EXPECT_THAT(problem(R"({"outputs":[[1,2],[3]]})", 2), HasSubstr("output 'y'"));
  EXPECT_THAT(problem(R"({"outputs":[[1.5],[2]]})", 2), HasSubstr("output 'y'"));
}

}  // namespace
}  // namespace surge::upstream
