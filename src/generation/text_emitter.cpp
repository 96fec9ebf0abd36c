#include "generation/text_emitter.hpp"

#include <algorithm>

namespace surge {

text_emitter::text_emitter(std::vector<std::string> stop) : stop_(std::move(stop)) {
  std::erase_if(stop_, [](const std::string& s) { return s.empty(); });
  for (const auto& s : stop_) longest_stop_ = std::max(longest_stop_, s.size());
}

std::size_t incomplete_utf8_suffix(std::string_view text) {
  // Look back over at most three continuation bytes for a lead byte.
  for (std::size_t back = 1; back <= std::min<std::size_t>(4, text.size()); ++back) {
    const auto byte = static_cast<unsigned char>(text[text.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte
    std::size_t length = 1;
    if ((byte & 0xE0) == 0xC0) length = 2;
    else if ((byte & 0xF0) == 0xE0) length = 3;
    else if ((byte & 0xF8) == 0xF0) length = 4;
    return length > back ? back : 0;
  }
  return 0;
}

std::string valid_utf8(std::string_view text) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      out += text[i++];
      continue;
    }
    // Length and the range of the second byte (which excludes overlong forms,
    // surrogates and code points past U+10FFFF), per Unicode's table 3-7.
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    std::size_t valid = 1;
    while (valid < length && i + valid < text.size()) {
      const auto byte = static_cast<unsigned char>(text[i + valid]);
      if (byte < (valid == 1 ? low : 0x80) || byte > (valid == 1 ? high : 0xBF)) break;
      ++valid;
    }
    // One replacement for each maximal ill-formed part, as decoders do.
    if (valid == length) out.append(text.substr(i, valid));
    else out += replacement;
    i += valid;
  }
  return out;
}

text_emitter::piece text_emitter::advance(std::string_view decoded) {
  piece out;
  if (decoded.size() < emitted_) emitted_ = decoded.size();  // a re-decode may shorten the tail
  // A stop string fully inside emitted text would have been found earlier, so
  // the search starts where one could still begin.
  const std::size_t from = emitted_ >= longest_stop_ ? emitted_ - longest_stop_ + 1 : 0;
  std::size_t first = std::string_view::npos;
  for (const auto& s : stop_) {
    const auto at = decoded.find(s, from);
    if (at != std::string_view::npos && at + s.size() > emitted_) first = std::min(first, at);
  }
  if (first != std::string_view::npos) {
    const auto end = std::max(first, emitted_);
    out.text = valid_utf8(decoded.substr(emitted_, end - emitted_));
    emitted_ = end;
    out.stopped = true;
    return out;
  }

  std::size_t safe = decoded.size();
  // Hold back a tail that is a proper prefix of some stop string.
  for (std::size_t k = std::min(longest_stop_ > 0 ? longest_stop_ - 1 : 0, decoded.size() - emitted_); k > 0; --k) {
    const auto tail = decoded.substr(decoded.size() - k);
    const bool prefix = std::any_of(stop_.begin(), stop_.end(),
                                    [&](const std::string& s) { return s.size() > k && s.compare(0, k, tail) == 0; });
    if (prefix) {
      safe = decoded.size() - k;
      break;
    }
  }
  // And never split a UTF-8 character, or send a replacement character a
  // byte-fallback decoder shows for bytes still to come.
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  auto settled = decoded.substr(0, safe);
  safe -= incomplete_utf8_suffix(settled);
  settled = decoded.substr(0, safe);
  if (settled.size() >= emitted_ + replacement.size() && settled.ends_with(replacement)) safe -= replacement.size();
  if (safe > emitted_) {
    out.text = valid_utf8(decoded.substr(emitted_, safe - emitted_));
    emitted_ = safe;
  }
  return out;
}

std::string text_emitter::flush(std::string_view decoded) {
  if (decoded.size() <= emitted_) return {};
  auto rest = valid_utf8(decoded.substr(emitted_));
  emitted_ = decoded.size();
  return rest;
}

}  // namespace surge
