#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace surge {

// Decides how much of a sequence's decoded text may be sent so far. Text that
// could still become a stop string, or that ends in an incomplete UTF-8
// character, is held back until the next token settles it; a stop string
// ends the text just before it. What it releases is valid UTF-8.
class text_emitter {
 public:
  explicit text_emitter(std::vector<std::string> stop = {});

  struct piece {
    std::string text;      // new text to send (may be empty)
    bool stopped{false};   // a stop string was found; nothing follows
  };
  // `decoded` is the sequence's whole generated text so far.
  piece advance(std::string_view decoded);
  // The sequence ended for another reason: release everything held back.
  std::string flush(std::string_view decoded);

  std::size_t emitted() const { return emitted_; }

 private:
  std::vector<std::string> stop_;
  std::size_t longest_stop_{0};
  std::size_t emitted_{0};
};

// Bytes at the end of `text` that start a UTF-8 character not yet complete.
std::size_t incomplete_utf8_suffix(std::string_view text);

// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD, as a
// byte-level model can sample bytes that form no character and every
// protocol sends text as UTF-8 (JSON requires it).
std::string valid_utf8(std::string_view text);

}  // namespace surge
