// The Redis Streams contract's entries: building XADD commands, reading
// XREAD/XAUTOCLAIM replies back, statuses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "redis/resp_reader.hpp"
#include "streams/entries.hpp"
#include "streams/keys.hpp"

namespace surge::streams {
namespace {

using ::testing::HasSubstr;

redis::reply s(std::string text) { return redis::reply::string(std::move(text)); }
redis::reply a(std::vector<redis::reply> elements) { return redis::reply::array(std::move(elements)); }

// The arguments of an encoded command, decoded again with the RESP reader.
std::vector<std::string> arguments_of(const redis::command& c) {
  redis::resp_reader reader;
  const auto bytes = c.encoded();
  EXPECT_FALSE(reader.feed(bytes.data(), bytes.size()));
  auto next = reader.next();
  std::vector<std::string> out;
  for (const auto& element : std::get<redis::reply>(next).elements()) out.emplace_back(element.text());
  return out;
}

TEST(StreamKeys, FollowTheContract) {
  EXPECT_EQ(requests_key("resnet"), "surge:resnet:requests");
  EXPECT_EQ(workers_key("resnet"), "surge:resnet:workers");
  EXPECT_EQ(dead_letter_key("resnet"), "surge:resnet:dead");
  EXPECT_EQ(gateway_replies_key("gw-1"), "surge:replies:gw-1");
  EXPECT_EQ(consumer_group, "surge-workers");
}

TEST(RequestEntry, RoundTripsThroughXaddAndParse) {
  request_entry entry;
  entry.id = "17";
  entry.reply_to = "surge:replies:gw";
  entry.model = "m";
  entry.version = 2;
  entry.deadline_unix_ms = 1700000000123;
  entry.priority = 1;
  entry.traceparent = "00-abc-def-01";
  entry.header_length = 4;
  entry.body = std::make_shared<const std::string>(std::string("{}\0\1binary", 11));
  const auto args = arguments_of(request_xadd("surge:m:requests", entry));
  ASSERT_GE(args.size(), 3u);
  EXPECT_EQ(args[0], "XADD");
  EXPECT_EQ(args[1], "surge:m:requests");
  EXPECT_EQ(args[2], "*");

  stream_entry read;
  read.id = "1-0";
  for (std::size_t i = 3; i + 1 < args.size(); i += 2) read.fields.emplace_back(args[i], args[i + 1]);
  request_entry parsed;
  ASSERT_FALSE(parse_request_entry(read, parsed));
  EXPECT_EQ(parsed.id, "17");
  EXPECT_EQ(parsed.reply_to, "surge:replies:gw");
  EXPECT_EQ(parsed.model, "m");
  EXPECT_EQ(parsed.version, 2);
  EXPECT_EQ(parsed.deadline_unix_ms, 1700000000123);
  EXPECT_EQ(parsed.priority, 1u);
  EXPECT_EQ(parsed.traceparent, "00-abc-def-01");
  EXPECT_EQ(parsed.header_length, 4u);
  EXPECT_EQ(*parsed.body, *entry.body);
  EXPECT_TRUE(parsed.batch.empty());
}

TEST(RequestEntry, CarriesItsBatchTag) {
  request_entry entry;
  entry.id = "1";
  entry.reply_to = "r";
  entry.model = "m";
  entry.batch = "41";
  entry.batch_size = 3;
  entry.body = std::make_shared<const std::string>("{}");
  const auto args = arguments_of(request_xadd("k", entry));
  EXPECT_EQ(args, (std::vector<std::string>{"XADD", "k", "*", "id", "1", "reply_to", "r", "model", "m", "batch", "41",
                                            "batch_size", "3", "body", "{}"}));
  stream_entry read;
  read.id = "1-0";
  for (std::size_t i = 3; i + 1 < args.size(); i += 2) read.fields.emplace_back(args[i], args[i + 1]);
  request_entry parsed;
  ASSERT_FALSE(parse_request_entry(read, parsed));
  EXPECT_EQ(parsed.batch, "41");
  EXPECT_EQ(parsed.batch_size, 3u);
}

stream_entry tagged(std::string reply_to, std::string batch, std::string size) {
  stream_entry e;
  e.id = "1-0";
  e.fields = {{"id", "1"}, {"reply_to", std::move(reply_to)}, {"batch", std::move(batch)},
              {"batch_size", std::move(size)}};
  return e;
}

TEST(BatchTag, WholeOnlyWhenEveryBatchIsComplete) {
  EXPECT_TRUE(whole_batches({tagged("r", "1", "1")}));
  EXPECT_TRUE(whole_batches({tagged("r", "1", "2"), tagged("r", "1", "2"), tagged("r", "2", "1")}));
  EXPECT_FALSE(whole_batches({tagged("r", "1", "2")}));
  // The same token from two producers is two batches.
  EXPECT_FALSE(whole_batches({tagged("r", "1", "2"), tagged("other", "1", "2")}));
  stream_entry untagged;
  untagged.fields = {{"id", "2"}, {"reply_to", "r"}};
  EXPECT_FALSE(whole_batches({tagged("r", "1", "1"), untagged}));
}

TEST(BatchTag, IgnoresMalformedFields) {
  EXPECT_FALSE(batch_tag_of(tagged("r", "1", "zero")));
  EXPECT_FALSE(batch_tag_of(tagged("r", "1", "0")));
  EXPECT_FALSE(batch_tag_of(tagged("r", "", "2")));
  const auto tag = batch_tag_of(tagged("r", "7", "4"));
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->size, 4u);
}

TEST(RequestEntry, LeavesOptionalFieldsOut) {
  request_entry entry;
  entry.id = "1";
  entry.reply_to = "r";
  entry.model = "m";
  entry.body = std::make_shared<const std::string>("{}");
  const auto args = arguments_of(request_xadd("k", entry));
  EXPECT_EQ(args, (std::vector<std::string>{"XADD", "k", "*", "id", "1", "reply_to", "r", "model", "m", "body", "{}"}));
}

TEST(RequestEntry, NamesTheBadField) {
  const auto failure = [](std::vector<std::pair<std::string, std::string>> fields) {
    request_entry out;
    auto problem = parse_request_entry(stream_entry{"5-0", std::move(fields)}, out);
    return problem ? problem->message : std::string("none");
  };
  EXPECT_THAT(failure({{"reply_to", "r"}, {"model", "m"}, {"body", "{}"}}), HasSubstr("no \"id\""));
  EXPECT_THAT(failure({{"id", "1"}, {"model", "m"}, {"body", "{}"}}), HasSubstr("no \"reply_to\""));
  EXPECT_THAT(failure({{"id", "1"}, {"reply_to", "r"}, {"body", "{}"}}), HasSubstr("\"model\""));
  EXPECT_THAT(failure({{"id", "1"}, {"reply_to", "r"}, {"model", "m"}}), HasSubstr("\"body\""));
  EXPECT_THAT(failure({{"id", "1"}, {"reply_to", "r"}, {"model", "m"}, {"deadline", "soon"}, {"body", "{}"}}),
              HasSubstr("\"deadline\" is 'soon'"));
  EXPECT_THAT(failure({{"id", "1"}, {"reply_to", "r"}, {"model", "m"}, {"version", "0"}, {"body", "{}"}}),
              HasSubstr("\"version\""));
  EXPECT_THAT(failure({{"id", "1"}, {"reply_to", "r"}, {"model", "m"}, {"header_length", "9"}, {"body", "{}"}}),
              HasSubstr("body has 2 bytes"));

  // The sender can still be answered when the rest is wrong.
  request_entry out;
  ASSERT_TRUE(parse_request_entry(stream_entry{"5-0", {{"id", "7"}, {"reply_to", "r"}}}, out));
  EXPECT_EQ(out.id, "7");
  EXPECT_EQ(out.reply_to, "r");
}

TEST(RequestEntry, TreatsZeroDeadlineAsNone) {
  request_entry out;
  ASSERT_FALSE(parse_request_entry(
      stream_entry{"1-0", {{"id", "1"}, {"reply_to", "r"}, {"model", "m"}, {"deadline", "0"}, {"body", "{}"}}}, out));
  EXPECT_FALSE(out.deadline_unix_ms);
  EXPECT_FALSE(out.header_length);
}

TEST(ReplyEntry, CarriesBodyOrError) {
  reply_entry ok;
  ok.id = "3";
  ok.header_length = 2;
  ok.body = "{}xy";
  ok.worker = "w1";
  EXPECT_EQ(arguments_of(reply_xadd("surge:replies:g", ok, 10000)),
            (std::vector<std::string>{"XADD", "surge:replies:g", "MAXLEN", "~", "10000", "*", "id", "3", "status",
                                      "200", "header_length", "2", "body", "{}xy", "worker", "w1"}));
  reply_entry failed;
  failed.id = "4";
  failed.status = 504;
  failed.error = "late";
  const auto args = arguments_of(reply_xadd("g", failed));
  EXPECT_THAT(args, ::testing::Contains("error"));
  EXPECT_THAT(args, ::testing::Not(::testing::Contains("body")));

  auto parsed = parse_reply_entry(stream_entry{"9-1", {{"id", "4"}, {"status", "504"}, {"error", "late"}}});
  ASSERT_TRUE(std::holds_alternative<reply_entry>(parsed));
  EXPECT_EQ(std::get<reply_entry>(parsed).status, 504);
  EXPECT_EQ(std::get<reply_entry>(parsed).error, "late");
  EXPECT_TRUE(std::holds_alternative<error>(parse_reply_entry(stream_entry{"9-2", {{"id", "4"}}})));
  EXPECT_TRUE(std::holds_alternative<error>(parse_reply_entry(stream_entry{"9-3", {{"status", "200"}}})));
  EXPECT_TRUE(std::holds_alternative<error>(parse_reply_entry(stream_entry{"9-4", {{"id", "1"}, {"status", "x"}}})));
}

TEST(StreamReplies, ReadsEntriesOfOneStream) {
  auto read = a({a({s("other"), a({a({s("1-0"), a({s("f"), s("v")})})})}),
                 a({s("mine"), a({a({s("2-0"), a({s("id"), s("a")})}), a({s("2-1"), a({s("id"), s("b")})})})})});
  auto entries = entries_of_read(std::move(read), "mine");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, "2-0");
  EXPECT_EQ(*entries[1].find("id"), "b");
  EXPECT_TRUE(entries_of_read(redis::reply::nil(), "mine").empty());
}

TEST(StreamReplies, SkipsEntriesDeletedWhilePending) {
  // XAUTOCLAIM/XCLAIM give nil fields for an entry deleted while pending.
  auto list = a({a({s("1-0"), redis::reply::nil()}), a({s("1-1"), a({s("id"), s("x")})})});
  auto entries = entries_of_list(std::move(list));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].id, "1-1");
}

TEST(ReplyStatus, MapsErrorCodesBothWays) {
  for (auto code : {error_code::invalid_argument, error_code::not_found, error_code::unavailable,
                    error_code::not_ready, error_code::deadline_exceeded, error_code::internal}) {
    EXPECT_EQ(code_of_status(status_of(code)), code);
  }
  EXPECT_EQ(status_of(error_code::not_ready), 503);
  EXPECT_EQ(code_of_status(502), error_code::internal);
}

}  // namespace
}  // namespace surge::streams
