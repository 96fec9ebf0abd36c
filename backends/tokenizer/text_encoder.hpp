// The shim's tokenizer behind RAII handles, so the backend never sees a raw
// pointer or an error string to free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer_shim.h"

namespace surge::tokenizer {

// One text's tokens (views into its encoded_batch).
struct encoded_row {
  std::span<const std::int64_t> ids;
  std::span<const std::int64_t> attention_mask;
  std::span<const std::int64_t> type_ids;
  std::size_t invalid_utf8_at{SIZE_MAX};  // byte offset of the first bad sequence; SIZE_MAX: valid UTF-8
};

// The rows of one encode call, in the order of its texts.
class encoded_batch {
 public:
  encoded_row row(std::size_t index) const;
  std::size_t size() const noexcept { return size_; }

 private:
  friend class text_encoder;
  struct free_batch {
    void operator()(surge_tok_batch* batch) const noexcept { surge_tok_batch_free(batch); }
  };
  std::unique_ptr<surge_tok_batch, free_batch> batch_;
  std::size_t size_{0};
};

// A tokenizer.json loaded with truncation to `max_length` tokens (special
// tokens included) and no padding. Encoding is const and thread-safe.
class text_encoder {
 public:
  // Throws std::runtime_error with the tokenizers library's reason.
  text_encoder(const std::string& path, std::size_t max_length);

  // Encodes every text in one call into the shim. Texts that are not UTF-8
  // get a row with invalid_utf8_at set and no tokens; the others are encoded
  // all the same. Throws std::runtime_error when encoding fails as a whole.
  encoded_batch encode(std::span<const std::string_view> texts) const;

  std::size_t max_length() const noexcept { return max_length_; }

 private:
  struct free_tokenizer {
    void operator()(surge_tok_tokenizer* tokenizer) const noexcept { surge_tok_free(tokenizer); }
  };
  std::unique_ptr<surge_tok_tokenizer, free_tokenizer> tokenizer_;
  std::size_t max_length_;
};

}  // namespace surge::tokenizer
