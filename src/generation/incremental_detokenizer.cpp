#include "generation/incremental_detokenizer.hpp"

#include <variant>

namespace surge {

namespace {
constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
}

std::optional<error> incremental_detokenizer::advance(const generation_model& decoder,
                                                      std::span<const std::int32_t> tokens, bool final) {
  if (read_offset_ >= tokens.size()) return std::nullopt;
  if (!prefix_text_) {
    auto decoded = decoder.detokenize(tokens.subspan(prefix_offset_, read_offset_ - prefix_offset_));
    if (auto* failure = std::get_if<error>(&decoded)) return std::move(*failure);
    prefix_text_ = std::get<std::string>(std::move(decoded));
  }
  auto decoded = decoder.detokenize(tokens.subspan(prefix_offset_));
  if (auto* failure = std::get_if<error>(&decoded)) return std::move(*failure);
  const auto& window = std::get<std::string>(decoded);
  // Only text past the prefix's own is new; none yet, or a character still
  // being completed, waits for the next token.
  if (window.size() <= prefix_text_->size() && !final) return std::nullopt;
  const std::string_view added =
      window.size() > prefix_text_->size() ? std::string_view(window).substr(prefix_text_->size()) : std::string_view();
  if (!final && added.ends_with(replacement)) return std::nullopt;
  text_.append(added);
  prefix_offset_ = read_offset_;
  read_offset_ = tokens.size();
  prefix_text_.reset();  // decoded again, from the new prefix, at the next step
  return std::nullopt;
}

}  // namespace surge
