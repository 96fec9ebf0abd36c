#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/sse_parser.hpp"

namespace surge::bench {
namespace {

using ::testing::ElementsAre;

struct seen {
  std::string type;
  std::string data;
  bool operator==(const seen&) const = default;
};

std::ostream& operator<<(std::ostream& out, const seen& e) { return out << e.type << ":" << e.data; }

std::vector<seen> parse_in_pieces(std::string_view stream, const std::vector<std::size_t>& cuts) {
  sse_parser parser;
  std::vector<sse_event> events;
  std::size_t from = 0;
  for (const auto cut : cuts) {
    EXPECT_TRUE(parser.feed(stream.substr(from, cut - from), events));
    from = cut;
  }
  EXPECT_TRUE(parser.feed(stream.substr(from), events));
  std::vector<seen> out;
  for (auto& e : events) out.push_back({e.type, e.data});
  return out;
}

std::vector<seen> parse_whole(std::string_view stream) { return parse_in_pieces(stream, {}); }

// An OpenAI stream as surge and OpenAI send it, with a comment line as some
// proxies add for keep-alive.
constexpr std::string_view openai_stream =
    "data: {\"choices\":[{\"index\":0,\"text\":\"In\",\"finish_reason\":null}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"text\":\" the \\u00e9\",\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"length\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"completion_tokens\":3}}\n\n"
    "data: [DONE]\n\n";

TEST(SseParser, ParsesAnOpenAIStream) {
  const auto events = parse_whole(openai_stream);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].data, "{\"choices\":[{\"index\":0,\"text\":\"In\",\"finish_reason\":null}]}");
  EXPECT_EQ(events[4].data, "[DONE]");
  for (const auto& e : events) EXPECT_EQ(e.type, "message");
}

TEST(SseParser, SameEventsWhenSplitAtEveryBytePosition) {
  const auto whole = parse_whole(openai_stream);
  for (std::size_t cut = 0; cut <= openai_stream.size(); ++cut) {
    EXPECT_EQ(parse_in_pieces(openai_stream, {cut}), whole) << "split at byte " << cut;
  }
}

TEST(SseParser, SameEventsWhenFedOneByteAtATime) {
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < openai_stream.size(); ++i) every.push_back(i);
  EXPECT_EQ(parse_in_pieces(openai_stream, every), parse_whole(openai_stream));
}

TEST(SseParser, CrLfAndCrLineEndingsAtEverySplit) {
  // The standard allows CRLF, LF and CR alone; a CRLF split between two
  // feeds must not count as two line ends (which would end the event early).
  const std::string crlf = "data: a\r\ndata: b\r\n\r\nevent: x\rdata: c\r\rdata: d\n\n";
  const auto expected = std::vector<seen>{{"message", "a\nb"}, {"x", "c"}, {"message", "d"}};
  EXPECT_EQ(parse_whole(crlf), expected);
  for (std::size_t cut = 0; cut <= crlf.size(); ++cut) {
    EXPECT_EQ(parse_in_pieces(crlf, {cut}), expected) << "split at byte " << cut;
  }
  for (std::size_t a = 0; a <= crlf.size(); ++a) {
    for (std::size_t b = a; b <= crlf.size(); ++b) {
      EXPECT_EQ(parse_in_pieces(crlf, {a, b}), expected) << "split at bytes " << a << " and " << b;
    }
  }
}

TEST(SseParser, FieldsFollowTheStandard) {
  // One space after the colon is dropped, a second is kept; a line without a
  // colon is a field with an empty value; unknown fields and id/retry are ignored.
  EXPECT_THAT(parse_whole("data:x\n\n"), ElementsAre(seen{"message", "x"}));
  EXPECT_THAT(parse_whole("data:  x\n\n"), ElementsAre(seen{"message", " x"}));
  EXPECT_THAT(parse_whole("data\n\n"), ElementsAre(seen{"message", ""}));
  EXPECT_THAT(parse_whole("id: 7\nretry: 10\nfoo: bar\ndata: y\n\n"), ElementsAre(seen{"message", "y"}));
  EXPECT_THAT(parse_whole("data: a:b\n\n"), ElementsAre(seen{"message", "a:b"}));
}

TEST(SseParser, EventsWithoutDataAreNotDispatched) {
  EXPECT_THAT(parse_whole("event: ping\n\n: comment\n\n\n\ndata: z\n\n"), ElementsAre(seen{"message", "z"}));
}

TEST(SseParser, EventTypeAppliesToItsEventOnly) {
  EXPECT_THAT(parse_whole("event: error\ndata: e\n\ndata: m\n\n"),
              ElementsAre(seen{"error", "e"}, seen{"message", "m"}));
}

TEST(SseParser, AnUnfinishedEventIsHeldBack) {
  sse_parser parser;
  std::vector<sse_event> events;
  EXPECT_TRUE(parser.feed("data: {\"partial\":", events));
  EXPECT_TRUE(events.empty());
  EXPECT_GT(parser.pending_bytes(), 0u);
  EXPECT_TRUE(parser.feed("1}\n", events));
  EXPECT_TRUE(events.empty());  // a line, not yet an event
  EXPECT_TRUE(parser.feed("\n", events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "{\"partial\":1}");
  EXPECT_EQ(parser.pending_bytes(), 0u);
}

TEST(SseParser, LeadingByteOrderMarkIsSkippedEvenWhenSplit) {
  const std::string with_bom = "\xEF\xBB\xBF" "data: a\n\n";
  for (std::size_t cut = 0; cut <= with_bom.size(); ++cut) {
    EXPECT_THAT(parse_in_pieces(with_bom, {cut}), ElementsAre(seen{"message", "a"})) << "split at byte " << cut;
  }
  // Bytes that only begin like a BOM are text: here they start a field name.
  EXPECT_TRUE(parse_whole("\xEF\xBB" "data: a\n\n").empty());
}

TEST(SseParser, MultiByteCharactersSurviveAnySplit) {
  const std::string text = "data: \xE2\x82\xAC \xF0\x9F\x98\x80\n\n";  // euro sign, emoji
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_THAT(parse_in_pieces(text, {cut}), ElementsAre(seen{"message", "\xE2\x82\xAC \xF0\x9F\x98\x80"}));
  }
}

TEST(SseParser, OversizedEventFails) {
  sse_parser parser(64);
  std::vector<sse_event> events;
  EXPECT_TRUE(parser.feed("data: " + std::string(40, 'a') + "\n", events));
  EXPECT_FALSE(parser.feed("data: " + std::string(40, 'b') + "\n\n", events));
  EXPECT_TRUE(parser.failed());
  EXPECT_FALSE(parser.feed("data: c\n\n", events));
  EXPECT_TRUE(events.empty());
}

TEST(SseParser, OversizedLineFailsEvenWithoutALineEnd) {
  sse_parser parser(64);
  std::vector<sse_event> events;
  EXPECT_FALSE(parser.feed(std::string(100, 'x'), events));
}

}  // namespace
}  // namespace surge::bench
