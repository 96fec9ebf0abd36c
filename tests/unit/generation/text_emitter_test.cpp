#include "generation/text_emitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace surge {
namespace {

// Feeds `decoded` one growing prefix at a time, as the scheduler does after
// each token, and returns what was sent at every step.
std::vector<text_emitter::piece> feed(text_emitter& emitter, const std::vector<std::string>& decoded) {
  std::vector<text_emitter::piece> out;
  for (const auto& text : decoded) out.push_back(emitter.advance(text));
  return out;
}

std::string joined(const std::vector<text_emitter::piece>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += p.text;
  return out;
}

TEST(text_emitter, without_stop_strings_everything_goes_at_once) {
  text_emitter emitter;
  const auto pieces = feed(emitter, {"He", "Hello", "Hello, wo", "Hello, world"});
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces[0].text, "He");
  EXPECT_EQ(pieces[1].text, "llo");
  EXPECT_EQ(pieces[2].text, ", wo");
  EXPECT_EQ(pieces[3].text, "rld");
  for (const auto& p : pieces) EXPECT_FALSE(p.stopped);
  EXPECT_EQ(emitter.emitted(), 12u);
}

TEST(text_emitter, stop_string_across_token_boundaries_ends_the_text_before_it) {
  text_emitter emitter({"STOP"});
  const auto pieces = feed(emitter, {"abc S", "abc ST", "abc STO", "abc STOP"});
  EXPECT_EQ(pieces[0].text, "abc ");  // "S" could start the stop string: held
  EXPECT_EQ(pieces[1].text, "");
  EXPECT_EQ(pieces[2].text, "");
  EXPECT_FALSE(pieces[2].stopped);
  EXPECT_EQ(pieces[3].text, "");
  EXPECT_TRUE(pieces[3].stopped);
  EXPECT_EQ(joined(pieces), "abc ");
}

TEST(text_emitter, held_prefix_is_released_when_the_stop_string_does_not_complete) {
  text_emitter emitter({"END"});
  const auto pieces = feed(emitter, {"xE", "xEN", "xENx", "xENxy"});
  EXPECT_EQ(pieces[0].text, "x");
  EXPECT_EQ(pieces[1].text, "");
  EXPECT_EQ(pieces[2].text, "ENx");
  EXPECT_EQ(pieces[3].text, "y");
  for (const auto& p : pieces) EXPECT_FALSE(p.stopped);
  EXPECT_EQ(joined(pieces), "xENxy");
}

TEST(text_emitter, stop_string_inside_one_token_keeps_the_text_before_it) {
  text_emitter emitter({"###"});
  const auto first = emitter.advance("one two");
  EXPECT_EQ(first.text, "one two");
  const auto second = emitter.advance("one two three###four");
  EXPECT_EQ(second.text, " three");
  EXPECT_TRUE(second.stopped);
}

TEST(text_emitter, earliest_of_several_stop_strings_wins) {
  text_emitter emitter({"zz", "\n\n", "b."});
  const auto piece = emitter.advance("a b.\n\nzz");
  EXPECT_EQ(piece.text, "a ");
  EXPECT_TRUE(piece.stopped);
}

TEST(text_emitter, stop_string_at_the_very_start_sends_nothing) {
  text_emitter emitter({"\n"});
  const auto piece = emitter.advance("\nrest");
  EXPECT_EQ(piece.text, "");
  EXPECT_TRUE(piece.stopped);
  EXPECT_EQ(emitter.emitted(), 0u);
}

TEST(text_emitter, overlapping_prefixes_hold_back_only_what_could_still_match) {
  // "aa" could be the start of "aab"; then "aaa" settles the first "a".
  text_emitter emitter({"aab"});
  const auto pieces = feed(emitter, {"aa", "aaa", "aaab"});
  EXPECT_EQ(pieces[0].text, "");
  EXPECT_EQ(pieces[1].text, "a");
  EXPECT_TRUE(pieces[2].stopped);
  EXPECT_EQ(joined(pieces), "a");
}

TEST(text_emitter, empty_stop_strings_are_ignored) {
  text_emitter emitter({""});
  const auto piece = emitter.advance("abc");
  EXPECT_EQ(piece.text, "abc");
  EXPECT_FALSE(piece.stopped);
}

TEST(text_emitter, flush_releases_a_held_stop_prefix) {
  text_emitter emitter({"STOP"});
  EXPECT_EQ(emitter.advance("done ST").text, "done ");
  EXPECT_EQ(emitter.flush("done ST"), "ST");
  EXPECT_EQ(emitter.emitted(), 7u);
  EXPECT_EQ(emitter.flush("done ST"), "");  // nothing twice
}

TEST(text_emitter, incomplete_utf8_is_held_until_the_character_completes) {
  text_emitter emitter;
  // "é" is C3 A9; "😀" is F0 9F 98 80.
  const auto pieces = feed(emitter, {"a\xC3", "a\xC3\xA9", "a\xC3\xA9\xF0\x9F", "a\xC3\xA9\xF0\x9F\x98",
                                     "a\xC3\xA9\xF0\x9F\x98\x80"});
  EXPECT_EQ(pieces[0].text, "a");
  EXPECT_EQ(pieces[1].text, "\xC3\xA9");
  EXPECT_EQ(pieces[2].text, "");
  EXPECT_EQ(pieces[3].text, "");
  EXPECT_EQ(pieces[4].text, "\xF0\x9F\x98\x80");
}

TEST(text_emitter, replacement_character_of_pending_bytes_is_held_back) {
  // A byte-fallback decoder shows U+FFFD for a character whose bytes are still coming.
  text_emitter emitter;
  EXPECT_EQ(emitter.advance("a\xEF\xBF\xBD").text, "a");
  EXPECT_EQ(emitter.advance("a\xC3\xA9").text, "\xC3\xA9");
}

TEST(text_emitter, flush_ends_an_incomplete_character_with_a_replacement) {
  // The sequence ended: the bytes held back will never complete.
  text_emitter emitter;
  EXPECT_EQ(emitter.advance("ok\xE2\x82").text, "ok");
  EXPECT_EQ(emitter.flush("ok\xE2\x82"), "\xEF\xBF\xBD");
  EXPECT_EQ(emitter.emitted(), 4u);
}

TEST(text_emitter, bytes_that_form_no_character_are_sent_as_replacements) {
  // A byte-level model can sample a continuation byte with no lead, or a lead
  // byte followed by ASCII: what is sent must still be UTF-8.
  text_emitter emitter;
  EXPECT_EQ(emitter.advance("a\x80").text, "a\xEF\xBF\xBD");
  EXPECT_EQ(emitter.advance("a\x80\xC3").text, "");
  EXPECT_EQ(emitter.advance("a\x80\xC3z").text, "\xEF\xBF\xBDz");
}

TEST(text_emitter, valid_utf8_keeps_well_formed_text) {
  const std::string text = "plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF";
  EXPECT_EQ(valid_utf8(text), text);
  EXPECT_EQ(valid_utf8(""), "");
}

TEST(text_emitter, valid_utf8_replaces_each_maximal_ill_formed_part) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(valid_utf8("\x80"), r);                     // continuation without a lead
  EXPECT_EQ(valid_utf8("\x80\x80"), r + r);            // each stray continuation byte
  EXPECT_EQ(valid_utf8("\xC3x"), r + "x");              // lead byte cut short
  EXPECT_EQ(valid_utf8("\xE2\x82x"), r + "x");         // two bytes of three: one replacement
  EXPECT_EQ(valid_utf8("\xC0\xAF"), r + r);            // overlong form
  EXPECT_EQ(valid_utf8("\xE0\x80\xAF"), r + r + r);   // overlong three-byte form
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), r + r + r);   // a surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(valid_utf8("\xFFok"), r + "ok");
  EXPECT_EQ(valid_utf8("\xF0\x9F\x98"), r);           // truncated at the end
}

TEST(text_emitter, incomplete_utf8_suffix_counts_the_bytes_of_an_unfinished_character) {
  EXPECT_EQ(incomplete_utf8_suffix(""), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("a\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_suffix("a\xC3\xA9"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2\x82"), 2u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2\x82\xAC"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF0\x9F\x98\x80"), 0u);
}

TEST(text_emitter, stop_prefix_and_utf8_hold_together) {
  // The stop string itself is multi-byte: its first byte alone is both a
  // stop prefix and an incomplete character.
  text_emitter emitter({"\xC2\xA7\xC2\xA7"});  // "§§"
  const auto pieces = feed(emitter, {"x\xC2", "x\xC2\xA7", "x\xC2\xA7y"});
  EXPECT_EQ(pieces[0].text, "x");
  EXPECT_EQ(pieces[1].text, "");
  EXPECT_EQ(pieces[2].text, "\xC2\xA7y");
}

}  // namespace
}  // namespace surge
