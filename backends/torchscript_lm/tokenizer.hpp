// The model's SentencePiece tokenizer (<version_directory>/tokenizer.model).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "piece_model.hpp"

namespace surge::torchscript_lm {

// Encoding and decoding are const and safe to call from several threads at
// once, as surge_generation_tokenize/detokenize require.
class tokenizer {
 public:
  // Fails with SURGE_ERROR_UNSUPPORTED naming the file.
  explicit tokenizer(const std::filesystem::path& file);
  ~tokenizer();
  tokenizer(const tokenizer&) = delete;
  tokenizer& operator=(const tokenizer&) = delete;

  std::uint32_t vocab_size() const noexcept { return vocab_size_; }
  // -1 when the tokenizer defines none.
  std::int32_t bos_token() const noexcept { return bos_; }
  std::int32_t eos_token() const noexcept { return eos_; }

  // The text's pieces, after BOS when the tokenizer has one.
  std::vector<std::int32_t> encode(std::string_view text) const;
  // Fails with SURGE_ERROR_INVALID_ARGUMENT for an id outside [0, vocab_size).
  // Control tokens (BOS, EOS) decode to nothing.
  std::string decode(std::span<const std::int32_t> ids) const;

 private:
  void* library_{nullptr};  // libsurge_sentencepiece.so, closed after model_ is gone
  std::unique_ptr<piece_model> model_;
  std::uint32_t vocab_size_{0};
  std::int32_t bos_{-1};
  std::int32_t eos_{-1};
};

}  // namespace surge::torchscript_lm
