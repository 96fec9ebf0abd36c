#include "generation/incremental_detokenizer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace surge {
namespace {

// A byte-level tokenizer like kjv_lm's, with the decoding rules that make
// incremental decoding hard: a token alone at the start of a text loses its
// leading space (SentencePiece-style), and bytes that do not complete a
// UTF-8 character decode to U+FFFD. Counts the tokens it decodes.
class byte_model final : public generation_model {
 public:
  const generation_limits& limits() const override { return limits_; }
  std::variant<std::vector<std::int32_t>, error> tokenize(std::string_view text) const override {
    std::vector<std::int32_t> out;
    for (char c : text) out.push_back(static_cast<unsigned char>(c));
    return out;
  }
  std::variant<std::string, error> detokenize(std::span<const std::int32_t> tokens) const override {
    decoded_tokens += tokens.size();
    std::string bytes;
    for (auto t : tokens) bytes.push_back(static_cast<char>(t));
    if (!bytes.empty() && bytes.front() == ' ') bytes.erase(0, 1);
    // Replace an incomplete trailing character, as a byte-fallback decoder shows it.
    std::size_t back = 0;
    const auto at = [&](std::size_t from_end) { return static_cast<unsigned char>(bytes[bytes.size() - 1 - from_end]); };
    while (back < bytes.size() && back < 4 && (at(back) & 0xC0) == 0x80) ++back;
    if (back < bytes.size()) {
      const auto lead = at(back);
      const std::size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (need > back + 1) bytes.replace(bytes.size() - 1 - back, back + 1, "\xEF\xBF\xBD");
    }
    return bytes;
  }
  mutable std::size_t decoded_tokens{0};

 private:
  generation_limits limits_{1, 4096, 256, std::nullopt};
};

std::vector<std::int32_t> bytes(std::string_view text) {
  std::vector<std::int32_t> out;
  for (char c : text) out.push_back(static_cast<unsigned char>(c));
  return out;
}

TEST(incremental_detokenizer, keeps_the_first_words_space_and_holds_an_incomplete_character) {
  byte_model model;
  auto tokens = bytes("In the");  // prompt: its last token 'e' is the first prefix
  const std::size_t prompt = tokens.size();
  incremental_detokenizer text(prompt - 1, prompt);
  std::vector<std::string> seen;
  for (const auto t : bytes(" beginning \xC3\xA9t\xC3\xA9")) {
    tokens.push_back(t);
    ASSERT_FALSE(text.advance(model, tokens));
    seen.emplace_back(text.text());
  }
  EXPECT_EQ(seen.front(), " ") << "a leading space decoded behind the prompt is kept";
  EXPECT_EQ(text.text(), " beginning \xC3\xA9t\xC3\xA9");
  for (const auto& s : seen) EXPECT_EQ(s.find("\xEF\xBF\xBD"), std::string::npos) << "an incomplete character leaked";
}

TEST(incremental_detokenizer, final_releases_what_is_held) {
  byte_model model;
  auto tokens = bytes("ab");
  incremental_detokenizer text(1, 2);
  tokens.push_back(0xE2);  // the first byte of a three-byte character, and no more
  ASSERT_FALSE(text.advance(model, tokens));
  EXPECT_EQ(text.text(), "");
  ASSERT_FALSE(text.advance(model, tokens, true));
  EXPECT_EQ(text.text(), "\xEF\xBF\xBD");
}

TEST(incremental_detokenizer, decodes_a_bounded_window_per_token_whatever_the_length) {
  byte_model model;
  auto tokens = bytes("x");
  incremental_detokenizer text(0, 1);
  std::vector<std::size_t> per_token;
  for (int i = 0; i < 1600; ++i) {
    tokens.push_back('a' + i % 26);
    const auto before = model.decoded_tokens;
    ASSERT_FALSE(text.advance(model, tokens));
    per_token.push_back(model.decoded_tokens - before);
  }
  EXPECT_EQ(text.text().size(), 1600u);
  EXPECT_LE(*std::max_element(per_token.begin(), per_token.end()), 4u)
      << "the whole completion was decoded again";
}

}  // namespace
}  // namespace surge
