#include "tokenizer/text_encoder.hpp"

#include <stdexcept>
#include <vector>

namespace surge::tokenizer {
namespace {

// Takes over an error string of the shim.
std::string take_error(char* error, std::string_view fallback) {
  if (error == nullptr) return std::string(fallback);
  std::string message(error);
  surge_tok_string_free(error);
  return message;
}

}  // namespace

encoded_row encoded_batch::row(std::size_t index) const {
  const surge_tok_row raw = surge_tok_batch_row(batch_.get(), index);
  encoded_row out;
  out.invalid_utf8_at = raw.invalid_utf8_at;
  if (raw.length != 0) {
    out.ids = {raw.ids, raw.length};
    out.attention_mask = {raw.attention_mask, raw.length};
    out.type_ids = {raw.type_ids, raw.length};
  }
  return out;
}

text_encoder::text_encoder(const std::string& path, std::size_t max_length) : max_length_(max_length) {
  char* error = nullptr;
  tokenizer_.reset(surge_tok_load(path.c_str(), max_length, &error));
  if (!tokenizer_) throw std::runtime_error(take_error(error, "the tokenizer did not load"));
}

encoded_batch text_encoder::encode(std::span<const std::string_view> texts) const {
  std::vector<surge_tok_text> raw;
  raw.reserve(texts.size());
  for (const auto text : texts) raw.push_back({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  char* error = nullptr;
  encoded_batch out;
  out.batch_.reset(surge_tok_encode(tokenizer_.get(), raw.data(), raw.size(), &error));
  if (!out.batch_) throw std::runtime_error(take_error(error, "tokenizing failed"));
  out.size_ = texts.size();
  return out;
}

}  // namespace surge::tokenizer
