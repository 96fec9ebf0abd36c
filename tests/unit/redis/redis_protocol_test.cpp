// The pure parts of the Redis client: command encoding, reply parsing and
// conversion, URLs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "redis/command.hpp"
#include "redis/reply.hpp"
#include "redis/resp_reader.hpp"
#include "redis/transaction.hpp"
#include "redis/url.hpp"

using namespace std::string_literals;

namespace surge::redis {
namespace {

using ::testing::HasSubstr;

TEST(RedisCommand, EncodesArgumentsAsBulkStrings) {
  command c{"SET", "key", "value"};
  EXPECT_EQ(c.encoded(), "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.name(), "SET");
}

TEST(RedisCommand, IsBinarySafe) {
  const std::string binary("a\r\n\0b", 5);
  command c;
  c.arg("XADD").arg(binary).arg(std::string_view{});
  EXPECT_EQ(c.encoded(), std::string("*3\r\n$4\r\nXADD\r\n$5\r\na\r\n\0b\r\n$0\r\n\r\n", 31));
}

TEST(RedisCommand, EncodesNumbersInDecimal) {
  command c{"ZADD"};
  c.arg(std::int64_t{-42}).arg(std::uint64_t{18446744073709551615ull}).arg(7);
  EXPECT_EQ(c.encoded(), "*4\r\n$4\r\nZADD\r\n$3\r\n-42\r\n$20\r\n18446744073709551615\r\n$1\r\n7\r\n");
}

TEST(RedisCommand, AppendsToAnExistingBuffer) {
  std::string out = "x";
  command{"PING"}.encode_to(out);
  command{"PING"}.encode_to(out);
  EXPECT_EQ(out, "x*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n");
}

std::vector<reply> parse_all(resp_reader& reader) {
  std::vector<reply> out;
  for (;;) {
    auto next = reader.next();
    if (std::holds_alternative<resp_reader::need_more>(next)) return out;
    if (auto* problem = std::get_if<resp_reader::protocol_error>(&next)) throw std::runtime_error(problem->message);
    out.push_back(std::get<reply>(std::move(next)));
  }
}

TEST(RespReader, ConvertsEveryReplyKind) {
  resp_reader reader;
  const std::string bytes =
      "+OK\r\n-ERR wrong type\r\n:-12\r\n$5\r\nhe\0lo\r\n$-1\r\n*-1\r\n*2\r\n$2\r\nid\r\n*1\r\n:1\r\n"s;
  ASSERT_FALSE(reader.feed(bytes.data(), bytes.size()));
  auto replies = parse_all(reader);
  ASSERT_EQ(replies.size(), 7u);
  EXPECT_TRUE(replies[0].is_status());
  EXPECT_EQ(replies[0].text(), "OK");
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_FALSE(replies[1].transport_failure());
  EXPECT_EQ(replies[1].text(), "ERR wrong type");
  EXPECT_TRUE(replies[2].is_integer());
  EXPECT_EQ(replies[2].integer(), -12);
  EXPECT_TRUE(replies[3].is_string());
  EXPECT_EQ(replies[3].text(), std::string_view("he\0lo", 5));
  EXPECT_TRUE(replies[4].is_nil());
  EXPECT_TRUE(replies[5].is_nil());
  ASSERT_TRUE(replies[6].is_array());
  ASSERT_EQ(replies[6].size(), 2u);
  EXPECT_EQ(replies[6][0].text(), "id");
  ASSERT_TRUE(replies[6][1].is_array());
  EXPECT_EQ(replies[6][1][0].integer(), 1);
}

TEST(RespReader, WaitsForTheRestOfASplitReply) {
  resp_reader reader;
  const std::string bytes = "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n";
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    ASSERT_FALSE(reader.feed(bytes.data() + i, 1));
    EXPECT_TRUE(parse_all(reader).empty()) << "after byte " << i;
  }
  ASSERT_FALSE(reader.feed(bytes.data() + bytes.size() - 1, 1));
  auto replies = parse_all(reader);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].describe(), "[\"abc\", \"def\"]");
}

TEST(RespReader, ReportsAProtocolError) {
  resp_reader reader;
  const std::string bytes = "?what\r\n";
  ASSERT_FALSE(reader.feed(bytes.data(), bytes.size()));
  auto next = reader.next();
  ASSERT_TRUE(std::holds_alternative<resp_reader::protocol_error>(next));
  EXPECT_THAT(std::get<resp_reader::protocol_error>(next).message, HasSubstr("Protocol error"));
}

TEST(RespReader, RefusesAReplyAnnouncingTooManyElementsBeforeAllocatingThem) {
  // hiredis 0.14 would allocate 8 bytes per announced element at once.
  const auto limit = std::to_string(resp_reader::max_reply_elements);
  const auto half = std::to_string(resp_reader::max_reply_elements / 2);
  for (const std::string& bytes : {"*" + std::to_string(resp_reader::max_reply_elements + 1) + "\r\n:1\r\n",
                                  // nested arrays count together
                                  "*2\r\n*" + half + "\r\n:1\r\n"}) {
    resp_reader reader;
    ASSERT_FALSE(reader.feed(bytes.data(), bytes.size()));
    std::string big = "*" + half + "\r\n";
    for (int i = 0; i < 3; ++i) reader.feed(big.data(), big.size());
    auto next = reader.next();
    ASSERT_TRUE(std::holds_alternative<resp_reader::protocol_error>(next)) << bytes;
    EXPECT_THAT(std::get<resp_reader::protocol_error>(next).message, HasSubstr("more than " + limit));
  }

  // The count starts again with each reply.
  resp_reader reader;
  const std::string one = "*" + half + "\r\n";
  std::string replies;
  for (int i = 0; i < 3; ++i) {
    replies += one;
    for (std::size_t e = 0; e < resp_reader::max_reply_elements / 2; ++e) replies += ":1\r\n";
  }
  ASSERT_FALSE(reader.feed(replies.data(), replies.size()));
  for (int i = 0; i < 3; ++i) {
    auto next = reader.next();
    ASSERT_TRUE(std::holds_alternative<reply>(next));
    EXPECT_EQ(std::get<reply>(next).size(), resp_reader::max_reply_elements / 2);
  }
}

TEST(RedisReply, ReadsIntegersFromStrings) {
  EXPECT_EQ(reply::string("17").as_integer(), 17);
  EXPECT_EQ(reply::integer(-3).as_integer(), -3);
  EXPECT_FALSE(reply::string("17x").as_integer());
  EXPECT_FALSE(reply::nil().as_integer());
}

TEST(RedisReply, TellsTransportFailuresFromServerErrors) {
  auto lost = reply::transport_error("connection lost");
  EXPECT_TRUE(lost.is_error());
  EXPECT_TRUE(lost.transport_failure());
  EXPECT_FALSE(reply::server_error("ERR").transport_failure());
  EXPECT_EQ(lost.describe(), "(error) connection lost");
}

endpoint parse_or_throw(std::string_view url) {
  auto parsed = parse_url(url);
  if (auto* failure = std::get_if<error>(&parsed)) throw std::runtime_error(failure->message);
  return std::get<endpoint>(parsed);
}

std::string parse_failure(std::string_view url) {
  auto parsed = parse_url(url);
  if (auto* failure = std::get_if<error>(&parsed)) return failure->message;
  throw std::runtime_error("parsed unexpectedly");
}

TEST(RedisUrl, ParsesHostPortAndDatabase) {
  auto e = parse_or_throw("redis://cache.local:6380/2");
  EXPECT_EQ(e.host, "cache.local");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 2u);
  EXPECT_EQ(e.display(), "cache.local:6380/2");
}

TEST(RedisUrl, DefaultsPortAndDatabase) {
  auto e = parse_or_throw("redis://127.0.0.1");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.db, 0u);
  EXPECT_EQ(parse_or_throw("redis://h/").db, 0u);
}

TEST(RedisUrl, ParsesCredentialsAndIpv6) {
  auto e = parse_or_throw("redis://user:s3cret@[::1]:7000");
  EXPECT_EQ(e.user, "user");
  EXPECT_EQ(e.password, "s3cret");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.display(), "[::1]:7000");
  EXPECT_EQ(parse_or_throw("redis://:pw@h").password, "pw");
}

TEST(RedisUrl, RejectsMalformedUrls) {
  EXPECT_THAT(parse_failure("http://h:1"), HasSubstr("must start with redis://"));
  EXPECT_THAT(parse_failure("redis://h:0"), HasSubstr("port '0'"));
  EXPECT_THAT(parse_failure("redis://h:99999"), HasSubstr("port '99999'"));
  EXPECT_THAT(parse_failure("redis://h:"), HasSubstr("empty port"));
  EXPECT_THAT(parse_failure("redis://:6379"), HasSubstr("no host"));
  EXPECT_THAT(parse_failure("redis://h/x"), HasSubstr("database 'x'"));
}

}  // namespace
}  // namespace surge::redis

namespace surge::redis {
namespace {

TEST(RedisTransaction, WrapsCommandsInMultiExec) {
  std::vector<command> commands;
  commands.push_back(command{"XADD", "k", "*", "f", "v"});
  commands.push_back(command{"XADD", "k", "*", "f", "w"});
  const auto wrapped = as_transaction(std::move(commands));
  ASSERT_EQ(wrapped.size(), 4u);
  EXPECT_EQ(wrapped.front().name(), "MULTI");
  EXPECT_EQ(wrapped[1].name(), "XADD");
  EXPECT_EQ(wrapped.back().name(), "EXEC");
}

TEST(RedisTransaction, ReturnsTheRepliesOfTheCommandsInside) {
  std::vector<reply> replies;
  replies.push_back(reply::status("OK"));
  replies.push_back(reply::status("QUEUED"));
  replies.push_back(reply::status("QUEUED"));
  replies.push_back(reply::array({reply::string("1-0"), reply::server_error("WRONGTYPE no")}));
  const auto results = transaction_results(std::move(replies), 2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].text(), "1-0");
  EXPECT_TRUE(results[1].is_error());
  EXPECT_THAT(std::string(results[1].text()), HasSubstr("WRONGTYPE"));
}

TEST(RedisTransaction, FailsEveryCommandOfATransactionThatDidNotRun) {
  std::vector<reply> refused;
  refused.push_back(reply::status("OK"));
  refused.push_back(reply::server_error("ERR wrong number of arguments"));
  refused.push_back(reply::status("QUEUED"));
  refused.push_back(reply::server_error("EXECABORT Transaction discarded"));
  const auto results = transaction_results(std::move(refused), 2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_THAT(std::string(results[0].text()), HasSubstr("wrong number"));
  EXPECT_THAT(std::string(results[1].text()), HasSubstr("EXECABORT"));

  std::vector<reply> cut;
  for (int i = 0; i < 4; ++i) cut.push_back(reply::transport_error("connection lost"));
  for (const auto& r : transaction_results(std::move(cut), 2)) EXPECT_TRUE(r.transport_failure());
}

}  // namespace
}  // namespace surge::redis
