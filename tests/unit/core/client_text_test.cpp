#include "core/client_text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace surge {
namespace {

bool valid_utf8(std::string_view text) {
  while (!text.empty()) {
    const auto length = utf8_sequence_length(text);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

TEST(ClientText, ShortValidTextIsKeptAsIs) {
  EXPECT_EQ(client_text("input__0"), "input__0");
  EXPECT_EQ(client_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(client_text(""), "");
}

TEST(ClientText, LongTextIsCutWithItsLength) {
  const std::string name(10 * 1024 * 1024, 'a');
  const auto quoted = client_text(name);
  EXPECT_EQ(quoted, std::string(128, 'a') + "... (10485760 bytes)");
  EXPECT_EQ(client_text("abcdef", 3), "abc... (6 bytes)");
  EXPECT_EQ(client_text("abc", 3), "abc");
}

TEST(ClientText, CutsOnACharacterBoundary) {
  // Two-byte characters: a budget of 5 holds two of them, not two and a half.
  const auto quoted = client_text("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5);
  EXPECT_EQ(quoted, "\xc3\xa9\xc3\xa9... (8 bytes)");
  EXPECT_TRUE(valid_utf8(quoted));
}

TEST(ClientText, InvalidBytesAreEscaped) {
  EXPECT_EQ(client_text("a\xff" "b"), "a\\xffb");
  EXPECT_EQ(client_text("\xc3"), "\\xc3");                  // cut-off sequence
  EXPECT_EQ(client_text("\xc0\xaf"), "\\xc0\\xaf");         // overlong '/'
  EXPECT_EQ(client_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(client_text("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  EXPECT_TRUE(valid_utf8(client_text(every_byte, 4096)));
  EXPECT_TRUE(valid_utf8(client_text(every_byte)));
  EXPECT_LE(client_text(every_byte).size(), 128u + 32u);
}

}  // namespace
}  // namespace surge
