#include "bench/bench_options.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace surge::bench {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
T value_of(parsed<T> result) {
  if (auto* problem = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << "unexpected error: " << *problem;
    return T{};
  }
  return std::get<T>(std::move(result));
}

template <typename T>
std::string problem_of(parsed<T> result) {
  if (std::holds_alternative<T>(result)) {
    ADD_FAILURE() << "parsed unexpectedly";
    return {};
  }
  return std::get<std::string>(std::move(result));
}

TEST(BenchOptions, DurationsTakeUnits) {
  EXPECT_EQ(value_of(parse_duration("10s")), 10s);
  EXPECT_EQ(value_of(parse_duration("500ms")), 500ms);
  EXPECT_EQ(value_of(parse_duration("250us")), 250us);
  EXPECT_EQ(value_of(parse_duration("40ns")), 40ns);
  EXPECT_EQ(value_of(parse_duration("2m")), 120s);
  EXPECT_EQ(value_of(parse_duration("1h")), 3600s);
  EXPECT_EQ(value_of(parse_duration("1.5s")), 1500ms);
  EXPECT_EQ(value_of(parse_duration("0s")), 0s);
  EXPECT_EQ(value_of(parse_duration("7")), 7s);  // bare: seconds
  EXPECT_EQ(value_of(parse_duration(" 3s ")), 3s);
}

TEST(BenchOptions, MalformedDurationsAreRefusedWithTheText) {
  EXPECT_THAT(problem_of(parse_duration("10x")), HasSubstr("'10x'"));
  EXPECT_THAT(problem_of(parse_duration("10x")), HasSubstr("unit"));
  EXPECT_THAT(problem_of(parse_duration("")), HasSubstr("not a number"));
  EXPECT_THAT(problem_of(parse_duration("s")), HasSubstr("not a number"));
  EXPECT_THAT(problem_of(parse_duration("-1s")), HasSubstr("'-1s'"));
  EXPECT_THAT(problem_of(parse_duration("1.2.3s")), HasSubstr("'1.2.3s'"));
}

TEST(BenchOptions, ConcurrencyListsSplitOnCommas) {
  EXPECT_THAT(value_of(parse_concurrency_list("1,4,16,64")), ElementsAre(1u, 4u, 16u, 64u));
  EXPECT_THAT(value_of(parse_concurrency_list("8")), ElementsAre(8u));
  EXPECT_THAT(value_of(parse_concurrency_list(" 2 , 3 ")), ElementsAre(2u, 3u));
}

TEST(BenchOptions, ConcurrencyMustBePositiveWholeNumbers) {
  EXPECT_THAT(problem_of(parse_concurrency_list("0")), HasSubstr("'0'"));
  EXPECT_THAT(problem_of(parse_concurrency_list("1,,4")), HasSubstr("''"));
  EXPECT_THAT(problem_of(parse_concurrency_list("4.5")), HasSubstr("'4.5'"));
  EXPECT_THAT(problem_of(parse_concurrency_list("-1")), HasSubstr("'-1'"));
  EXPECT_THAT(problem_of(parse_concurrency_list("a")), HasSubstr("positive whole number"));
}

TEST(BenchOptions, RatesArePositiveNumbers) {
  EXPECT_THAT(value_of(parse_rate_list("100,250.5")), ElementsAre(100.0, 250.5));
  EXPECT_THAT(problem_of(parse_rate_list("0")), HasSubstr("'0'"));
  EXPECT_THAT(problem_of(parse_rate_list("-5")), HasSubstr("'-5'"));
  EXPECT_THAT(problem_of(parse_rate_list("fast")), HasSubstr("'fast'"));
}

TEST(BenchOptions, ShapeOverridesNameAnInputAndItsDimensions) {
  const auto shape = value_of(parse_shape_override("INPUT0=1,16"));
  EXPECT_EQ(shape.input, "INPUT0");
  EXPECT_THAT(shape.dims, ElementsAre(1, 16));
  EXPECT_THAT(value_of(parse_shape_override("x=3")).dims, ElementsAre(3));
}

TEST(BenchOptions, MalformedShapeOverridesAreRefused) {
  EXPECT_THAT(problem_of(parse_shape_override("INPUT0")), HasSubstr("NAME=DIM"));
  EXPECT_THAT(problem_of(parse_shape_override("=1")), HasSubstr("NAME=DIM"));
  EXPECT_THAT(problem_of(parse_shape_override("A=0")), HasSubstr("'0'"));
  EXPECT_THAT(problem_of(parse_shape_override("A=1,x")), HasSubstr("'x'"));
  EXPECT_THAT(problem_of(parse_shape_override("A=-1")), HasSubstr("'-1'"));
}

TEST(BenchOptions, UrlsGiveHostPortAndPrefix) {
  auto a = value_of(parse_url("http://127.0.0.1:8000"));
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, "8000");
  EXPECT_EQ(a.base_path, "");
  auto b = value_of(parse_url("localhost:9000"));
  EXPECT_EQ(b.host, "localhost");
  EXPECT_EQ(b.port, "9000");
  auto c = value_of(parse_url("http://example"));
  EXPECT_EQ(c.port, "80");
  auto d = value_of(parse_url("http://[::1]:8000/serving/"));
  EXPECT_EQ(d.host, "::1");
  EXPECT_EQ(d.port, "8000");
  EXPECT_EQ(d.base_path, "/serving");
}

TEST(BenchOptions, UnsupportedOrMalformedUrlsAreRefused) {
  EXPECT_THAT(problem_of(parse_url("https://host:443")), HasSubstr("https"));
  EXPECT_THAT(problem_of(parse_url("grpc://host:8001")), HasSubstr("only http://"));
  EXPECT_THAT(problem_of(parse_url("http://:8000")), HasSubstr("no host"));
  EXPECT_THAT(problem_of(parse_url("http://host:0")), HasSubstr("'0'"));
  EXPECT_THAT(problem_of(parse_url("http://host:99999")), HasSubstr("'99999'"));
  EXPECT_THAT(problem_of(parse_url("http://[::1:8000")), HasSubstr("unclosed"));
}

TEST(BenchOptions, ArrivalProcesses) {
  EXPECT_EQ(value_of(parse_arrival("constant")), arrival_process::constant);
  EXPECT_EQ(value_of(parse_arrival("poisson")), arrival_process::poisson);
  EXPECT_THAT(problem_of(parse_arrival("bursty")), HasSubstr("'bursty'"));
}

TEST(BenchOptions, TokenRanges) {
  const auto range = value_of(parse_token_range("8:256"));
  EXPECT_EQ(range.min, 8u);
  EXPECT_EQ(range.max, 256u);
  const auto single = value_of(parse_token_range("64"));
  EXPECT_EQ(single.min, 64u);
  EXPECT_EQ(single.max, 64u);
  EXPECT_EQ(value_of(parse_token_range(" 4 : 4 ")).max, 4u);
  EXPECT_THAT(problem_of(parse_token_range("256:8")), HasSubstr("minimum above its maximum"));
  EXPECT_THAT(problem_of(parse_token_range("0:8")), HasSubstr("'0:8'"));
  EXPECT_THAT(problem_of(parse_token_range("8:")), HasSubstr("'8:'"));
  EXPECT_THAT(problem_of(parse_token_range("a:b")), HasSubstr("MIN:MAX"));
  EXPECT_THAT(problem_of(parse_token_range("-1")), HasSubstr("'-1'"));
}

TEST(BenchOptions, CommandLinesAreQuotedOnlyWhereTheShellNeedsIt) {
  const char* argv[] = {"surge",  "bench",           "--model", "my model", "--concurrency",
                        "1,4",    "--url=http://h:1", "it's",    ""};
  EXPECT_EQ(quote_command_line(9, argv),
            "surge bench --model 'my model' --concurrency 1,4 --url=http://h:1 'it'\\''s' ''");
}

TEST(BenchOptions, ProtocolsAreHttpGrpcOrOpenai) {
  EXPECT_EQ(value_of(parse_protocol("http")), bench_protocol::http);
  EXPECT_EQ(value_of(parse_protocol("grpc")), bench_protocol::grpc);
  EXPECT_EQ(value_of(parse_protocol("openai")), bench_protocol::openai);
  EXPECT_EQ(problem_of(parse_protocol("h2")), "protocol 'h2' is not http, grpc or openai");
}

}  // namespace
}  // namespace surge::bench
